"""A stored digest read back: its papers in digest order, and their entries as the email showed
them, re-matched against the profile the digest was composed with (`Digest.keywords`).

Digests store only their papers' ids; what each paper matched is derived again when a page
needs it, since matching is cheap, pure and the profile snapshot is kept. A paper whose text
changed since (a new version) shows with what it matches now; one that no longer matches shows
without highlights; one deleted since is left out.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from digest import matching
from digest.mail.entries import DigestEntry, entry_for
from digest.models import Digest, Paper

_CHUNK = 5000  # ids per IN list, well within every database's limit
_NO_MATCH = matching.Match(terms=(), in_title=False)


def digest_papers(session: Session, digest: Digest) -> list[Paper]:
    """The digest's papers that still exist, in digest order."""
    ids = digest.paper_id_list
    found: dict[int, Paper] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found.update((p.id, p) for p in session.scalars(select(Paper).where(Paper.id.in_(chunk))))
    return [found[i] for i in ids if i in found]


def stored_profile(digest: Digest) -> matching.Profile:
    """The profile the digest was composed with (an empty one if it no longer parses)."""
    try:
        return matching.parse_profile(digest.keywords)
    except matching.KeywordError:
        return matching.parse_profile("")


def stored_matches(session: Session, digest: Digest) -> list[tuple[Paper, matching.Match]]:
    """Each paper of the digest, in order, with what it matches of the digest's profile."""
    profile = stored_profile(digest)
    found = []
    for paper in digest_papers(session, digest):
        document = matching.make_document(
            paper.title, paper.abstract, paper.authors, paper.categories
        )
        found.append((paper, matching.match(profile, document) or _NO_MATCH))
    return found


def stored_entries(session: Session, digest: Digest) -> list[DigestEntry]:
    """Every paper of the digest as the email shows it, highlighted with its profile then."""
    profile = stored_profile(digest)
    return [entry_for(paper, match, profile) for paper, match in stored_matches(session, digest)]
