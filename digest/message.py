"""Building one outgoing email: RFC 5322 headers, MIME parts serialized for SMTP, DKIM signature.

Everything here is pure apart from reading the DKIM key file: the same inputs give the same bytes
(the Message-ID is derived from the message key, so a retried message keeps its identity).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path

import dkim

from digest.config import Settings
from digest.db import utcnow

# CRLF line endings and lines folded to 78 characters; bodies are quoted-printable below, so no
# line of the serialized message comes near the 998-octet limit of RFC 5322.
POLICY = SMTP.clone(max_line_length=78)

# What the DKIM signature covers. Listing List-Unsubscribe(-Post) is what lets mailbox providers
# trust the one-click unsubscribe (RFC 8058 section 4); From is listed twice so that no second
# From header can be added without breaking the signature.
DKIM_HEADERS = (
    b"From", b"From", b"To", b"Subject", b"Date", b"Message-ID", b"List-Id",
    b"List-Unsubscribe", b"List-Unsubscribe-Post", b"MIME-Version", b"Content-Type",
)

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class HeaderInjection(ValueError):
    """A header value holds CR, LF or another control character."""


def build_message(
    settings: Settings,
    *,
    to_addr: str,
    subject: str,
    text: str,
    html: str | None,
    message_key: str,
    unsubscribe_url: str | None,
    list_id: str | None = None,
    date: datetime | None = None,
) -> bytes:
    """A message (text, then HTML alternative) ready for SMTP, DKIM-signed when configured."""
    domain = settings.mail_domain
    headers = {
        "From": settings.mail_from,
        "To": to_addr,
        "Subject": subject,
        "Date": format_datetime(date or utcnow()),
        "Message-ID": message_id(message_key, domain),
        "List-Id": list_id or f"Paper Digest <digest.{domain}>",
    }
    if unsubscribe_url is not None:
        headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    headers["Auto-Submitted"] = "auto-generated"
    headers["Precedence"] = "bulk"
    for name, value in headers.items():
        check_header(name, value)
    _check_single_address(to_addr)

    message = EmailMessage(policy=POLICY)
    for name, value in headers.items():
        message[name] = value
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
        for part in message.iter_parts():
            del part["MIME-Version"]  # belongs in the top-level header only
        # A boundary derived from the key keeps the bytes reproducible; "=_" never occurs in
        # quoted-printable text, so it cannot collide with a body line.
        message.set_boundary("=_" + hashlib.sha256(message_key.encode("utf-8")).hexdigest()[:40])
    raw = message.as_bytes(policy=POLICY)
    if settings.dkim_selector and settings.dkim_key_file:
        raw = dkim_sign(raw, selector=settings.dkim_selector, domain=domain,
                        key_file=settings.dkim_key_file)
    return raw


def message_id(message_key: str, domain: str) -> str:
    """A Message-ID that is the same for every build of one logical message."""
    digest = hashlib.sha256(message_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def check_header(name: str, value: str) -> None:
    """Raise HeaderInjection when a header value could start a new header or line."""
    if _CONTROL.search(value):
        raise HeaderInjection(f"the {name} header must be one line without control characters")


def _check_single_address(to_addr: str) -> None:
    """The To header names exactly one plain address (no list, no display name)."""
    try:
        address = Address(addr_spec=to_addr)
    except (ValueError, IndexError) as exc:
        raise ValueError(f"{to_addr!r} is not a single email address") from exc
    if address.addr_spec != to_addr or not address.domain:
        raise ValueError(f"{to_addr!r} is not a single email address")


def dkim_sign(raw: bytes, *, selector: str, domain: str, key_file: Path) -> bytes:
    """Prepend a DKIM-Signature (relaxed/relaxed, rsa-sha256) to a serialized message."""
    signature = dkim.sign(
        raw,
        selector.encode("ascii"),
        domain.encode("ascii"),
        _read_key(key_file, key_file.stat().st_mtime_ns),
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=list(DKIM_HEADERS),
        linesep=b"\r\n",
    )
    return signature + raw


@lru_cache(maxsize=4)
def _read_key(path: Path, _mtime_ns: int) -> bytes:
    """The PEM key, read once per file version (the mtime is part of the cache key)."""
    return path.read_bytes()
