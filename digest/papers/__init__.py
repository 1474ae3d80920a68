"""Papers: store what the feeds give, one source at a time (SPEC §8).

`store` gives a paper its identity (arXiv id, else link or guid), merges it across sources,
applies new versions and stamps the first-seen time; `ingest` fetches, parses and stores one
source in one transaction, or records why it failed; `locks` keeps storing papers and planning
digests from overlapping, so that no paper falls between two digest windows.

May import: the foundation (config, db, models, services) and `digest.feeds`.
"""
