"""Composing: who is due, and what each digest holds (SPEC §7).

`schedule` is the time arithmetic (next send time in the reader's zone, digest windows);
`paperpool` loads a planning run's papers once; `ledger` remembers what each subscriber was
already given; `digests` decides who is due, matches their profiles and queues each digest.

May import: the foundation, `digest.papers`, `digest.matching` and `digest.mail` (to render a
digest and put it in the outbox). Nothing here knows about the web or the command line.
"""
