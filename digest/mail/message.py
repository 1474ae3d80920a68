"""Building one outgoing email: RFC 5322 headers, MIME parts serialized for SMTP, DKIM signature.

Everything here is pure apart from reading the DKIM key file: the same inputs give the same bytes
(the Message-ID is derived from the message key, so a retried message keeps its identity).

A digest is built once per subscriber per day, so this is on the hot path of composing 100,000
of them. The MIME structure is therefore written directly rather than through
`email.message.EmailMessage` (which spends milliseconds per message on header objects and a
pure-Python quoted-printable encoder): bodies go through the C encoder `binascii.b2a_qp`, and
only headers that need RFC 2047 encoding or folding (a non-ASCII or long Subject, a display name)
go through the email package, cached because digests share their Subject and From lines.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from datetime import datetime
from email.headerregistry import Address
from email.parser import BytesHeaderParser
from email.policy import SMTP, default
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path

import dkim

from digest.config import Settings
from digest.db import utcnow

# CRLF line endings and headers folded to 78 characters; bodies are quoted-printable (lines of at
# most 76 characters), so no line of the serialized message comes near the 998-octet limit.
FOLD_AT = 78
MAX_LINE = 998
POLICY = SMTP.clone(max_line_length=FOLD_AT)

# What the DKIM signature covers. Listing List-Unsubscribe(-Post) is what lets mailbox providers
# trust the one-click unsubscribe (RFC 8058 section 4); From is listed twice so that no second
# From header can be added without breaking the signature.
DKIM_HEADERS = (
    b"From", b"From", b"To", b"Subject", b"Date", b"Message-ID", b"List-Id",
    b"List-Unsubscribe", b"List-Unsubscribe-Post", b"MIME-Version", b"Content-Type",
)

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# A dot-atom address (RFC 5322 3.4.1), which the email package's parser takes as it is; anything
# else (quoted local parts, display names, lists) is left to that parser to judge.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_ADDRESS = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@{_ATEXT}(?:\.{_ATEXT})*")
# Headers the email package re-renders as address lists; they always take its path.
_ADDRESS_LISTS = frozenset({"From", "Sender", "Reply-To", "Cc", "Bcc"})
_HEADER_PARSER = BytesHeaderParser(policy=default)
_TEXT_PART = (
    b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n'
)


class HeaderInjection(ValueError):
    """A header value holds CR, LF or another control character, or To is not one address."""


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
    check_single_address(to_addr)

    lines = [header_line(name, value) for name, value in headers.items()]
    lines.append(b"MIME-Version: 1.0\r\n")
    if html is None:
        lines += [_TEXT_PART % b"plain", b"\r\n", quoted_printable(text)]
    else:
        # A boundary derived from the key keeps the bytes reproducible; "=_" never occurs in
        # quoted-printable text, so it cannot collide with a body line.
        boundary = b"=_" + hashlib.sha256(message_key.encode("utf-8")).hexdigest()[:40].encode()
        lines += [
            b'Content-Type: multipart/alternative;\r\n boundary="%s"\r\n\r\n' % boundary,
            b"--%s\r\n" % boundary, _TEXT_PART % b"plain", b"\r\n", quoted_printable(text),
            b"\r\n--%s\r\n" % boundary, _TEXT_PART % b"html", b"\r\n", quoted_printable(html),
            b"\r\n--%s--\r\n" % boundary,
        ]
    raw = b"".join(lines)
    if settings.dkim_selector and settings.dkim_key_file:
        raw = dkim_sign(raw, selector=settings.dkim_selector, domain=domain,
                        key_file=settings.dkim_key_file)
    return raw


def quoted_printable(body: str) -> bytes:
    """A body as UTF-8 quoted-printable with CRLF line ends, ending in one line break.

    CR, LF and CRLF in the input all count as line breaks, and a missing final one is added, as
    the email package does. Trailing spaces and tabs, '=', control characters and every non-ASCII
    byte are encoded, and lines are kept to 76 characters with soft breaks.
    """
    data = body.encode("utf-8")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if not data.endswith(b"\n"):
        data += b"\n"
    # b2a_qp keeps LF line ends as they are and writes no other LF, so each becomes a CRLF.
    return binascii.b2a_qp(data).replace(b"\n", b"\r\n")


def header_line(name: str, value: str) -> bytes:
    """One header serialized for SMTP: folded, RFC 2047-encoded where needed, ending in CRLF."""
    if name == "List-Unsubscribe" and value.isascii() and len(name) + 2 + len(value) <= MAX_LINE:
        # A URL in angle brackets is not text: mail clients read it as it stands and never
        # decode encoded words in it (RFC 2369), so it stays as it is, on one line.
        return f"{name}: {value}\r\n".encode("ascii")
    if (name not in _ADDRESS_LISTS and value.isascii() and value == value.strip() != ""
            and len(name) + 2 + len(value) <= FOLD_AT
            and "=?" not in value and "  " not in value):
        return f"{name}: {value}\r\n".encode("ascii")  # what the email package writes too
    return _folded_header(name, value)


@lru_cache(maxsize=1024)
def _folded_header(name: str, value: str) -> bytes:
    """A header the email package folds and encodes (cached: digests share Subject and From)."""
    return POLICY.fold_binary(name, POLICY.header_factory(name, value))


def message_id(message_key: str, domain: str) -> str:
    """A Message-ID that is the same for every build of one logical message."""
    digest = hashlib.sha256(message_key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}@{domain}>"


def check_header(name: str, value: str) -> None:
    """Raise HeaderInjection when a header value could start a new header or line."""
    if _CONTROL.search(value):
        raise HeaderInjection(f"the {name} header must be one line without control characters")


def check_single_address(to_addr: str) -> None:
    """Raise HeaderInjection unless the To header we write reads back as exactly this address.

    The envelope (RCPT TO) uses the address as it stands; a mail client reads the header. An
    RFC 2047 encoded word (`=?utf-8?q?evil=40example.net=2C?=@example.org`) is a dot-atom that
    a reader decodes into other addresses, so encoded words are refused outright, and anything
    else must parse back from the header as one address spelled exactly as given.
    """
    if "=?" in to_addr:
        raise HeaderInjection(
            f"{to_addr!r} is not a single email address: it holds an RFC 2047 encoded word"
        )
    if _PLAIN_ADDRESS.fullmatch(to_addr):
        # A dot-atom without "=?" is written as it stands (header_line) and the email parser
        # reads a dot-atom as itself, so the parse below would only confirm it (and costs
        # 0.1 ms, on the path of every digest).
        return
    addresses = read_back_addresses(header_line("To", to_addr))
    if len(addresses) != 1 or addresses[0].addr_spec != to_addr or not addresses[0].domain:
        raise HeaderInjection(f"{to_addr!r} is not a single email address")


def read_back_addresses(header: bytes) -> list[Address]:
    """The addresses a mail client reads from one serialized address header (empty if none)."""
    try:
        parsed = _HEADER_PARSER.parsebytes(header + b"\r\n")
        addresses = next(iter(parsed.values()), None)
        return list(getattr(addresses, "addresses", ()))
    except (ValueError, IndexError, TypeError):
        return []


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
