"""The personal feed (SPEC §11): a subscriber's digests of the last 30 days as one Atom feed.

The feed holds exactly what composing stored, each `Digest` and the papers it holds,
whether it was mailed (delivery `email`) or not (`feed`), so it has the once-per-paper promise
of the emails. It is versioned cheaply: `version` reads the digests' ids and counts and when
their papers last changed; with the ETag remembered for that version (`EtagCache`), a reader's
conditional GET is answered without building the document.

Each entry is one paper: its title, its page (alternate link), PDF and code (related links),
its authors, a short summary (the abstract cut as the email cuts it, for a reader's list) and
XHTML content with why it is there, the authors, the whole abstract and the links. Upvotes are
left out on purpose: they change daily and would make every reader fetch the feed again.

Ids are stable and reveal nothing: the feed's and each entry's are UUIDs made with the instance's
secret key from the subscriber (and the paper), never from the address. The feed links to the
papers and to the site, never to the manage page: whoever holds the feed's address (a reader
service, a shared OPML file) can read it and nothing more.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from digest.compose import history
from digest.compose.history import DigestStamp
from digest.config import Settings
from digest.mail.entries import (
    ABSTRACT_MAX_CHARS,
    ABSTRACT_MAX_WORDS,
    ELLIPSIS,
    clean_text,
    safe_url,
)
from digest.mail.render import keywords_line
from digest.models import Subscriber
from digest.subscribers import atom_writer as atom

FEED_DAYS = 30
MAX_ENTRIES = 1000  # a bound on one response, whatever the profile matched
MAX_AUTHORS = 25  # per entry; papers with hundreds of authors exist
# A subscriber who left has no feed; a paused or suspended one keeps what was already given.
FEED_STATUSES = ("confirmed", "suspended")
FORMAT = "2"  # part of every version key: bump it when the document's shape changes
ETAG_CACHE_SIZE = 10_000  # feed versions whose ETag a process remembers (~1 MB)
DANGLING = " ,;:-([\u2013\u2014"  # not left before the ellipsis, as in the email


@dataclass(frozen=True)
class FeedVersion:
    """What the feed is made of now, in brief: a key that changes whenever the document may
    have (not only when it did), its Last-Modified, and the digests it lists."""

    key: str
    last_modified: datetime
    digests: list[DigestStamp]


class EtagCache:
    """The ETag of the document last built for each feed version, in a bounded LRU.

    The ETag is a hash of the document itself, so it changes only when the document does: a
    paper's upvotes changing (which the feed does not show) moves the version key but not the
    ETag, and the reader is answered 304 once the document was built again. A known key answers
    a conditional GET without building anything. Per process and thread-safe; a miss costs one
    build.
    """

    def __init__(self, size: int = ETAG_CACHE_SIZE) -> None:
        self._size = size
        self._etags: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        """The ETag built for this version, if this process built it recently."""
        with self._lock:
            etag = self._etags.get(key)
            if etag is not None:
                self._etags.move_to_end(key)
            return etag

    def put(self, key: str, etag: str) -> None:
        """Remember the ETag of the document built for this version."""
        with self._lock:
            self._etags[key] = etag
            self._etags.move_to_end(key)
            while len(self._etags) > self._size:
                self._etags.popitem(last=False)


def etag_of(body: bytes) -> str:
    """A strong ETag for a document: a hash of its bytes."""
    return hashlib.sha256(body).hexdigest()[:32]


def has_feed(subscriber: Subscriber | None) -> bool:
    """True when this subscriber's feed answers (their token alone is not enough)."""
    return subscriber is not None and subscriber.status in FEED_STATUSES


def version(
    session: Session, settings: Settings, subscriber: Subscriber, *, now: datetime
) -> FeedVersion:
    """The feed's version key and Last-Modified, from two small queries: what the document is
    made of (its digests, when their papers last changed, the keywords in its title, links)."""
    digests = history.digests_since(session, subscriber.id, now - timedelta(days=FEED_DAYS))
    changed = history.papers_changed_at(session, [stamp.id for stamp in digests])
    updated = _updated(subscriber, digests)
    moments = [updated, *([changed] if changed else [])]
    parts = [FORMAT, settings.base_url, settings.mail_from, str(subscriber.id)]
    parts += [subscriber.keywords, subscriber.status]
    parts += [f"{d.id}:{d.paper_count}:{d.created_at.isoformat()}" for d in digests]
    parts.append(changed.isoformat() if changed else "")
    key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]
    return FeedVersion(key=key, last_modified=max(moments), digests=digests)


def _updated(subscriber: Subscriber, digests: list[DigestStamp]) -> datetime:
    """The feed's atom:updated: when its newest digest was composed (else when it began)."""
    if digests:
        return max(stamp.created_at for stamp in digests)
    return subscriber.confirmed_at or subscriber.created_at


def document(
    session: Session,
    settings: Settings,
    subscriber: Subscriber,
    current: FeedVersion,
    *,
    self_url: str,
) -> bytes:
    """The Atom document: one entry per paper, newest digest first, each in rank order."""
    created = {stamp.id: stamp.created_at for stamp in current.digests}
    rows = history.newest_items(session, current.digests, limit=MAX_ENTRIES)
    product = settings.mail_from_address.display_name or "Paper Digest"
    keywords = keywords_line(subscriber.keywords)
    owner = _owner(subscriber)
    feed = atom.Feed(
        id=_uuid(settings.secret_key, owner),
        title=f"{product}: {keywords}" if keywords else product,
        subtitle=(
            f"The papers of your digests of the last {FEED_DAYS} days "
            f"that matched your keywords: {keywords}"
        ),
        updated=_updated(subscriber, current.digests),
        author=product,
        links=[
            atom.Link(href=self_url, rel="self", type="application/atom+xml"),
            atom.Link(href=f"{settings.base_url}/", rel="alternate", type="text/html"),
        ],
        entries=[
            _entry(settings.secret_key, owner, row, created[row.digest_id]) for row in rows
        ],
    )
    return atom.document(feed)


def _entry(secret: str, owner: str, row: history.GivenPaper, given_at: datetime) -> atom.Entry:
    """One paper of one digest (a `history.newest_items` row) as an Atom entry."""
    links = []
    arxiv_page = f"https://arxiv.org/abs/{row.arxiv_id}" if row.arxiv_id else None
    if url := safe_url(row.url) or arxiv_page:
        links.append(atom.Link(href=url, rel="alternate", type="text/html", title="Paper page"))
    if pdf := safe_url(row.pdf_url):
        links.append(atom.Link(href=pdf, rel="related", type="application/pdf", title="PDF"))
    if code := safe_url(row.code_url):
        links.append(atom.Link(href=code, rel="related", title="Code"))
    abstract = clean_text(row.abstract)
    authors = [name for name in map(clean_text, row.authors[:MAX_AUTHORS]) if name]
    return atom.Entry(
        id=_uuid(secret, f"{owner}:{row.key}"),
        title=clean_text(row.title) or row.key,
        updated=given_at,
        published=given_at,
        authors=authors,
        summary=short(abstract),
        content=abstract,
        reason=reason(row.matched_terms, row.in_title),
        links=links,
        categories=[str(term) for term in row.matched_terms],
    )


def short(abstract: str) -> str:
    """The abstract cut as the digest email cuts it (at most ABSTRACT_MAX_CHARS characters and
    ABSTRACT_MAX_WORDS words, at a space, then '…'), for a reader's list of entries.

    `abstract` is clean_text's: words separated by single spaces, so words are counted with
    str.find instead of the regex the email's highlighted segments need.
    """
    if len(abstract) <= ABSTRACT_MAX_CHARS and abstract.count(" ") < ABSTRACT_MAX_WORDS:
        return abstract
    limit, space = ABSTRACT_MAX_CHARS, -1
    for _ in range(ABSTRACT_MAX_WORDS):
        space = abstract.find(" ", space + 1)
        if space == -1:
            break
    if space != -1:
        limit = min(limit, space)
    cut = abstract.rfind(" ", 0, limit + 1)
    return abstract[: cut if cut > 0 else limit].rstrip(DANGLING) + ELLIPSIS


def reason(matched_terms: list[Any], in_title: bool) -> str:
    """Why the paper is in the digest, in one sentence: the terms it matched."""
    terms = ", ".join(str(term) for term in matched_terms)
    if not terms:
        return "Matched your keywords."
    return f"Matched your keywords: {terms}{' (in the title)' if in_title else ''}."


def _owner(subscriber: Subscriber) -> str:
    """The subscriber as ids are made from it: the row and when it was made, so that a new
    subscriber who happens to get a deleted one's row id gets other ids."""
    return f"feed:{subscriber.id}:{subscriber.created_at.isoformat()}"


def _uuid(secret: str, name: str) -> str:
    """A urn:uuid that is stable for `name` and reveals nothing of it (RFC 9562 version 8)."""
    digest = hmac.new(secret.encode(), name.encode(), hashlib.sha256).digest()
    value = int.from_bytes(digest[:16], "big")
    value = (value & ~(0xF000 << 64)) | (8 << 76)  # version 8: custom
    value = (value & ~(0xC000 << 48)) | (0x8000 << 48)  # the RFC variant
    return uuid.UUID(int=value).urn
