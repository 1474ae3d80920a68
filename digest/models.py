"""The stored data: feed sources, papers, subscribers, digests with their papers, and the outbox."""

from __future__ import annotations

import sys
from array import array
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from digest.db import Base, CompressedBytes, JSONList, UTCDateTime, utcnow

intpk = Annotated[int, mapped_column(Integer, primary_key=True)]
timestamp = Annotated[datetime, mapped_column(UTCDateTime(), nullable=False, default=utcnow)]
optional_timestamp = Annotated[datetime | None, mapped_column(UTCDateTime(), nullable=True)]
link = Annotated[str | None, mapped_column(String(2048), nullable=True)]


class Source(Base):
    """A feed we fetch, with what conditional GET needs to remember about it."""

    __tablename__ = "sources"

    id: Mapped[intpk]
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    kind: Mapped[str | None] = mapped_column(String(32))
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    last_fetched_at: Mapped[optional_timestamp]
    last_success_at: Mapped[optional_timestamp]
    last_error: Mapped[str | None] = mapped_column(Text)


class Paper(Base):
    """One paper, whatever feeds it came from; `key` is its arXiv id, else its link or guid."""

    __tablename__ = "papers"

    id: Mapped[intpk]
    key: Mapped[str] = mapped_column(String(512), unique=True)
    arxiv_id: Mapped[str | None] = mapped_column(String(64), index=True)
    version: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text, default="")
    authors: Mapped[list[str]] = mapped_column(JSONList(), default=list)
    categories: Mapped[list[str]] = mapped_column(JSONList(), default=list)
    url: Mapped[link]
    pdf_url: Mapped[link]
    code_url: Mapped[link]
    project_url: Mapped[link]
    upvotes: Mapped[int | None] = mapped_column(Integer)
    sources: Mapped[list[str]] = mapped_column(JSONList(), default=list)
    published_at: Mapped[optional_timestamp]
    updated_at: Mapped[optional_timestamp]
    first_seen_at: Mapped[timestamp] = mapped_column(index=True)
    last_seen_at: Mapped[timestamp]
    last_changed_at: Mapped[timestamp]


class Subscriber(Base):
    """A reader: address, keyword profile and schedule, and where their subscription stands."""

    __tablename__ = "subscribers"

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # pending → confirmed → unsubscribed; confirmed → suspended after repeated hard bounces.
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    keywords: Mapped[str] = mapped_column(Text, default="")
    frequency: Mapped[str] = mapped_column(String(8), default="daily")
    weekday: Mapped[int] = mapped_column(Integer, default=0)  # 0 = Monday, for weekly digests
    send_time: Mapped[str] = mapped_column(String(5), default="07:00")  # HH:MM, local time
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    # email: digests are mailed (and in the feed); feed: only in the personal feed, never mailed.
    delivery: Mapped[str] = mapped_column(String(8), default="email", server_default="email")
    # Rotated when the address changes or the data is deleted: every older token stops working.
    token_nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[timestamp]
    confirmed_at: Mapped[optional_timestamp]
    unsubscribed_at: Mapped[optional_timestamp]
    suspended_at: Mapped[optional_timestamp]
    # Papers first seen after this instant are owed to the next digest.
    last_digest_at: Mapped[optional_timestamp]
    # When the next digest is due, kept with the schedule so that "who is due" is one index scan.
    next_digest_at: Mapped[optional_timestamp] = mapped_column(index=True)
    hard_failures: Mapped[int] = mapped_column(Integer, default=0)
    # Bounces that came back after the relay accepted a message (`digest bounces`, SPEC §12).
    soft_bounces: Mapped[int] = mapped_column(Integer, default=0)
    last_bounce_at: Mapped[optional_timestamp]
    last_bounce: Mapped[str | None] = mapped_column(String(500))

    digests: Mapped[list[Digest]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan", passive_deletes=True
    )


class Digest(Base):
    """One composed digest for one subscriber and one scheduled moment."""

    __tablename__ = "digests"
    __table_args__ = (UniqueConstraint("subscriber_id", "scheduled_for"),)

    id: Mapped[intpk]
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime())
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    paper_count: Mapped[int] = mapped_column(Integer, default=0)
    keywords: Mapped[str] = mapped_column(Text, default="")  # the profile as it was when composed
    # SPEC §10: JSON of relevance.Parts.summary() (suggested papers and their reasons, the
    # papers moved to "Also matched"); NULL for a plain keyword digest.
    parts: Mapped[str | None] = mapped_column(Text)
    # Every paper of the digest, in digest order (pack_ids). The once-per-paper promise needs no
    # row per paper: windows never overlap and a paper's first_seen_at never changes.
    paper_ids: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    created_at: Mapped[timestamp]

    subscriber: Mapped[Subscriber] = relationship(back_populates="digests")

    @property
    def paper_id_list(self) -> list[int]:
        """The ids of the digest's papers, in digest order."""
        return unpack_ids(self.paper_ids)


def pack_ids(ids: Sequence[int]) -> bytes:
    """Paper ids as 4-byte little-endian unsigned integers, in the order given.

    A digest stores its papers this way instead of a row per paper: 4 bytes a paper, written and
    read in one piece. Ids beyond 2**32 - 1 raise OverflowError.
    """
    packed = array("I", ids)
    if sys.byteorder != "little":
        packed.byteswap()
    return packed.tobytes()


def unpack_ids(data: bytes | None) -> list[int]:
    """The ids `pack_ids` packed, in their order."""
    packed = array("I")
    packed.frombytes(data or b"")
    if sys.byteorder != "little":
        packed.byteswap()
    return packed.tolist()


class OutboxMessage(Base):
    """A message stored before it is sent: queued → sending → sent/deferred/failed/cancelled."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),
        # The per-mailbox cap on confirmation emails counts by (mailbox, created_at).
        Index("ix_outbox_mailbox_created_at", "mailbox", "created_at"),
    )

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(32))  # digest, confirm, manage_link, notice, …
    # Unique per logical message: a second `digest send` or worker cannot queue it twice.
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("digests.id", ondelete="CASCADE"), unique=True
    )
    to_addr: Mapped[str] = mapped_column(String(320))
    # `mail.mailbox.mailbox_key(to_addr)`: the inbox it reaches, whatever the spelling.
    mailbox: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text, default="")
    # The serialized RFC 5322 message; digests may leave it empty and be rendered at delivery.
    message: Mapped[bytes | None] = mapped_column(CompressedBytes)  # zlib: see CompressedBytes
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[timestamp]
    # Temporary failures are retried for 20 hours counted from here.
    first_attempt_at: Mapped[optional_timestamp]
    claimed_at: Mapped[optional_timestamp]
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    sent_at: Mapped[optional_timestamp]
    created_at: Mapped[timestamp]


class Bounce(Base):
    """A bounce or complaint message `digest bounces` processed, whatever it was found to be."""

    __tablename__ = "bounces"

    id: Mapped[intpk]
    # The bounce's own Message-ID (or a hash of it): the same report processed twice counts once.
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # hard, soft, complaint, ignored
    # Deleting a subscriber deletes their bounces too: a diagnostic often quotes the address.
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    # Kept when old outbox rows are purged: the per-day figures outlive the messages.
    outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str | None] = mapped_column(String(16))  # the DSN status code, e.g. 5.1.1
    diagnostic: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[timestamp] = mapped_column(index=True)


class AdminCredential(Base):
    """The dashboard's one password, hashed (SPEC §12); no row means /admin answers 404."""

    __tablename__ = "admin_credentials"

    id: Mapped[intpk]
    password_hash: Mapped[str] = mapped_column(String(512))
    changed_at: Mapped[timestamp]
class PaperEmbedding(Base):
    """A paper's vector under one model (§10): a model change adds rows under its own name."""

    __tablename__ = "paper_embeddings"
    __table_args__ = (UniqueConstraint("paper_id", "model"),)

    id: Mapped[intpk]
    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, little-endian, L2-normalized


class Rating(Base):
    """A reader's *More like this* (+1) or *Less like this* (-1) on one paper; one per paper."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("subscriber_id", "paper_id"),)

    id: Mapped[intpk]
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    paper_id: Mapped[int] = mapped_column(
        ForeignKey("papers.id", ondelete="CASCADE"), index=True
    )
    value: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[timestamp]


class LikedPaper(Base):
    """A paper a reader named on the form: found (paper_id set), pending lookup, or not_found."""

    __tablename__ = "liked_papers"
    __table_args__ = (UniqueConstraint("subscriber_id", "arxiv_id"),)

    id: Mapped[intpk]
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    arxiv_id: Mapped[str] = mapped_column(String(64))
    paper_id: Mapped[int | None] = mapped_column(
        ForeignKey("papers.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    title: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[timestamp]
