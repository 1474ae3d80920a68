"""The dashboard's password (SPEC §12): one row, hashed with werkzeug's scrypt, never kept plain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from digest.models import AdminCredential

MIN_LENGTH = 12
# Long enough for any passphrase; short enough that hashing one is never a way to load the server.
MAX_LENGTH = 1024


def check_strength(password: str) -> None:
    """Raise ValueError with a sentence when a new password is too short or too long."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"The password must be at least {MIN_LENGTH} characters long.")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"The password must be at most {MAX_LENGTH} characters long.")


def set_password(session: Session, password: str, *, now: datetime) -> None:
    """Store a new password's hash in place of the old one (which logs every session out)."""
    check_strength(password)
    hashed = generate_password_hash(password)  # scrypt, with a random salt, in werkzeug 3
    row = session.scalars(select(AdminCredential).with_for_update()).first()
    if row is None:
        session.add(AdminCredential(password_hash=hashed, changed_at=now))
    else:
        row.password_hash, row.changed_at = hashed, now


def password_hash(session: Session) -> str | None:
    """The stored hash, or None when no password was ever set."""
    return session.scalars(select(AdminCredential.password_hash).limit(1)).first()


def verify(stored_hash: str, password: str) -> bool:
    """True when the password matches the hash (werkzeug compares in constant time)."""
    if len(password) > MAX_LENGTH:
        return False
    return check_password_hash(stored_hash, password)
