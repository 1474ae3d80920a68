"""VERP envelope senders: `bounces+<token>@example.org`, a signed name for one outbox row.

With DIGEST_BOUNCE_ADDRESS set, each message goes out with an envelope sender (SMTP MAIL FROM,
which the receiving MTA turns into Return-Path) that names its outbox row, so a bounce sent back
to it says which message, and so which subscriber, failed. The token is opaque and signed: 5 bytes
of the row id and a 5-byte HMAC-SHA256 of it under the secret key (purpose-bound by its own
label), base32 in lower case (MTAs may fold the local part's case). Forging one for a row takes
about 2^40 tries, each a mail sent to us; a damaged or forged token is simply not recognised.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

_LABEL = b"digest.verp:"
_ID_BYTES = 5
_MAC_BYTES = 5
TOKEN_LENGTH = 16  # base32 of 10 bytes, no padding


def _mac(secret_key: str, raw_id: bytes) -> bytes:
    return hmac.new(secret_key.encode("utf-8"), _LABEL + raw_id, hashlib.sha256).digest()[
        :_MAC_BYTES
    ]


def make_token(secret_key: str, outbox_id: int) -> str:
    """The signed token naming one outbox row."""
    raw_id = outbox_id.to_bytes(_ID_BYTES, "big")
    return base64.b32encode(raw_id + _mac(secret_key, raw_id)).decode("ascii").lower()


def read_token(secret_key: str, token: str) -> int | None:
    """The outbox id a genuine token names, or None for a forged, altered or malformed one."""
    if len(token) != TOKEN_LENGTH:
        return None
    try:
        raw = base64.b32decode(token.upper())
    except ValueError:
        return None
    raw_id, mac = raw[:_ID_BYTES], raw[_ID_BYTES:]
    if not hmac.compare_digest(mac, _mac(secret_key, raw_id)):
        return None
    return int.from_bytes(raw_id, "big")


def envelope_sender(bounce_address: str, secret_key: str, outbox_id: int) -> str:
    """`local+token@domain` for the bounce address `local@domain` and this outbox row."""
    local, _, domain = bounce_address.rpartition("@")
    return f"{local}+{make_token(secret_key, outbox_id)}@{domain}"


def token_pattern(bounce_address: str) -> re.Pattern[str]:
    """Finds `local+token@domain` of this bounce address anywhere in a header value."""
    local, _, domain = bounce_address.rpartition("@")
    return re.compile(
        rf"(?<![\w.+-]){re.escape(local)}\+([a-z2-7]{{{TOKEN_LENGTH}}})@{re.escape(domain)}\b",
        re.IGNORECASE,
    )
