"""Operating digest (SPEC §12): bounces, doctor, metrics and the dashboard's queries.

What an operator needs once mail goes out: bounce and complaint processing (`reports.py` reads a
report, `bounces.py` applies it, `mailbox.py` drains an IMAP mailbox), the deliverability and
configuration checks of `digest doctor` (`doctor.py`), and the read-only figures that `/metrics`
and the admin dashboard show (`stats.py`, `metrics.py`, `charts.py`).

May import: the foundation and every stage below the front doors (papers, matching, mail, compose,
subscribers). The web and the command line sit on top of it.
"""
