"""Operating digest (SPEC §12): bounces, doctor, metrics and the dashboard's queries.

May import: the foundation and every stage below the front doors (papers, matching, mail, compose,
subscribers). The web and the command line sit on top of it.
"""
