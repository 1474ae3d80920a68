"""digest: emails researchers the new papers that match their interests.

Data flows feed -> papers -> matches -> digests -> outbox -> SMTP, one package per stage:

    config db models services signals tokens   the foundation every stage may use
    feeds/        fetch and parse every feed format into PaperIn values
    papers/       store papers (identity, merge, versions, first seen); ingest one source
    matching/     the keyword language: parse, match, rank, highlight (pure)
    mail/         display entries, rendering, RFC 5322 messages, the outbox, delivery, SMTP
    compose/      who is due and what each digest holds; the once-per-paper ledger
    subscribers/  subscribe, confirm, manage, unsubscribe; notices; CSV import and export
    pipeline      the job top to bottom; scheduler: the clock that runs it
    web/ cli/     the two front doors, on top of everything

A stage imports only the stages listed before it (tests/test_layout.py checks this).
"""
