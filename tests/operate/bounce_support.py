"""Bounce test helpers: a subscriber, outbox rows the relay accepted, fixtures with tokens."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from digest.db import utcnow
from digest.mail.verp import make_token
from digest.models import OutboxMessage, Subscriber

HERE = Path(__file__).parent / "bounces"
BOUNCE = "bounces@example.org"


def subscriber(sessions, email: str = "reader@example.net") -> int:
    with sessions.begin() as session:
        row = Subscriber(email=email, status="confirmed", token_nonce="n0", keywords="x")
        session.add(row)
        session.flush()
        return row.id


def sent(sessions, subscriber_id: int, n: int, kind: str = "digest") -> int:
    """An outbox row the relay accepted, sent `n` minutes after an hour ago."""
    at = utcnow() - timedelta(hours=1) + timedelta(minutes=n)
    with sessions.begin() as session:
        row = OutboxMessage(kind=kind, dedupe_key=f"d:{subscriber_id}:{n}", to_addr="x@example.net",
                            subscriber_id=subscriber_id, state="sent", sent_at=at, claimed_at=at,
                            message=b"x", next_attempt_at=at, created_at=at)
        session.add(row)
        session.flush()
        return row.id


def fixture(name: str, outbox_id: int, *, msgid: str | None = None) -> bytes:
    raw = (HERE / f"{name}.eml").read_bytes()
    token = make_token("test-secret-key", outbox_id).encode()
    forged = token[:-1] + (b"a" if token[-1:] != b"a" else b"b")
    raw = raw.replace(b"@@VERP@@", token).replace(b"@@FORGED@@", forged)
    if msgid is not None:  # a different report of the same kind (each bounce has its own id)
        raw = raw.replace(b"Message-Id: <", f"Message-Id: <{msgid}.".encode(), 1)
        raw = raw.replace(b"Message-ID: <", f"Message-ID: <{msgid}.".encode(), 1)
    return raw


def state(sessions, subscriber_id: int) -> tuple[str, int, int]:
    with sessions() as session:
        row = session.get(Subscriber, subscriber_id)
        assert row is not None
        return row.status, row.hard_failures, row.soft_bounces
