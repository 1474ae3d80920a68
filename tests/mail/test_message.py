"""Building messages by hand reads back exactly as the email package's own serialization would.

`build_message` writes the MIME structure itself for speed. Here every message is compared with
a reference built the slow, obviously-correct way (EmailMessage.set_content), after both are
parsed back: same headers, same text and HTML, for hostile bodies and subjects.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP, default

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.config import Settings
from digest.mail.message import build_message, message_id

NOW = datetime(2026, 4, 27, 7, 0, tzinfo=UTC)
SETTINGS = Settings(mail_from="Paper Digest <digest@example.org>")
UNSUBSCRIBE = "https://digest.example.org/unsubscribe/WzEsImYwYzBlNmFjZmZjZjNkZDgiXQ.awgZcQ.0CaGrl"


def reference(subject: str, text: str, html: str | None, unsubscribe_url: str | None) -> bytes:
    """The same message built with the email package (how build_message used to do it)."""
    message = EmailMessage(policy=SMTP.clone(max_line_length=78))
    message["From"] = SETTINGS.mail_from
    message["To"] = "ada@example.com"
    message["Subject"] = subject
    message["Date"] = "Mon, 27 Apr 2026 07:00:00 +0000"
    message["Message-ID"] = message_id("digest:1", "example.org")
    message["List-Id"] = "Paper Digest <digest.example.org>"
    if unsubscribe_url is not None:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"
    message["Precedence"] = "bulk"
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if html is not None:
        message.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
        message.set_boundary("=_" + hashlib.sha256(b"digest:1").hexdigest()[:40])
    return message.as_bytes()


def build(subject: str, text: str, html: str | None, unsubscribe_url: str | None) -> bytes:
    return build_message(
        SETTINGS, to_addr="ada@example.com", subject=subject, text=text, html=html,
        message_key="digest:1", unsubscribe_url=unsubscribe_url, date=NOW,
    )


def readback(raw: bytes) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Headers (name → decoded value) and parts (type, charset, decoded content) of a message."""
    message = message_from_bytes(raw, policy=default)
    headers = {name: str(value) for name, value in message.items() if name != "MIME-Version"}
    parts = list(message.iter_parts()) if message.is_multipart() else [message]
    return headers, [
        (part.get_content_type(), part.get_content_charset(), part.get_content()) for part in parts
    ]


def assert_serialized_for_smtp(raw: bytes) -> None:
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert raw.isascii()


HOSTILE_BODIES = [
    "Grüße, naïve ∑ — 日本語 😀\n",
    "x" * 5000 + "\n" + "é" * 3000,
    ".\n.. two dots\n.leading dot\n.\r\n",
    "From the start\nFrom here on\n>From quoted\n",
    "trailing space \ntrailing tab\t\nboth \t\nend with space ",
    "cr only\rcrlf\r\nlf\n\rmixed\n\r\n",
    "= sign =3D and =\nsoft =\r\n",
    "controls \x00\x01\x0b\x0c\x1c\x7f here\n",
    "",
    "\n\n\n",
    "--=_boundary look-alike\n--=_" + hashlib.sha256(b"digest:1").hexdigest()[:40] + "--\n",
    " " * 200 + "\n\t" * 3,
]


@pytest.mark.parametrize("body", HOSTILE_BODIES)
def test_hostile_bodies_read_back_as_the_email_package_would_write_them(body) -> None:
    for html in (f"<p>{body}</p>", body, ""):
        raw = build("Subject", body, html, UNSUBSCRIBE)
        assert readback(raw) == readback(reference("Subject", body, html, UNSUBSCRIBE))
        assert_serialized_for_smtp(raw)
    raw = build("Subject", body, None, None)
    assert readback(raw) == readback(reference("Subject", body, None, None))


@pytest.mark.parametrize("subject", [
    "3 new papers for you — Mon 27 Apr 2026",
    "Ünïcode " + "very long subject " * 30,
    "plain but long " * 12,
    "looks encoded =?utf-8?q?x?= but is not",
    "two  spaces and   three",
    "😀" * 60,
    "x" * 200,
])
def test_subjects_read_back_as_the_email_package_would_write_them(subject) -> None:
    raw = build(subject, "hello\n", "<p>hello</p>", UNSUBSCRIBE)
    assert readback(raw) == readback(reference(subject, "hello\n", "<p>hello</p>", UNSUBSCRIBE))
    if "=?" not in subject:  # the email package decodes what looks like an RFC 2047 word
        assert readback(raw)[0]["Subject"] == subject
    assert_serialized_for_smtp(raw)


def test_list_unsubscribe_is_the_bare_url_that_mail_clients_read() -> None:
    # Mail clients do not decode RFC 2047 words in List-Unsubscribe (it is a URL, not text), so
    # a real token's long URL must appear as it is, on one line.
    raw = build("Subject", "hello\n", None, UNSUBSCRIBE)
    assert f"\r\nList-Unsubscribe: <{UNSUBSCRIBE}>\r\n".encode() in raw


@settings(max_examples=150, deadline=None)
@given(
    subject=st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=120),
    text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=400),
    html=st.none() | st.text(st.characters(blacklist_categories=("Cs",)), max_size=400),
)
def test_any_message_reads_back_as_the_email_package_would_write_it(subject, text, html) -> None:
    raw = build(subject, text, html, UNSUBSCRIBE)
    assert readback(raw) == readback(reference(subject, text, html, UNSUBSCRIBE))
    assert_serialized_for_smtp(raw)
