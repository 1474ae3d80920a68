"""Messages and senders: SPEC §6 headers, SMTP serialization, DKIM, header injection, senders."""

from __future__ import annotations

import base64
import dataclasses
import subprocess
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import dkim
import pytest

from digest.config import Settings, SmtpConfig
from digest.mail.mailer import (
    ConnectionFailure,
    FileSender,
    HeaderInjection,
    PermanentFailure,
    SMTPSender,
    TemporaryFailure,
    build_message,
    make_sender,
)

FROM = "digest@example.org"
NOW = datetime(2026, 4, 27, 7, 0, tzinfo=UTC)
UNSUBSCRIBE = "https://digest.example.org/unsubscribe/abc.def"


@pytest.fixture
def mail_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, mail_from=f"Paper Digest <{FROM}>")


def build(settings: Settings, **overrides) -> bytes:
    values = {
        "to_addr": "ada@example.com", "subject": "3 new papers for 27 April 2026",
        "text": "Hello — three papers.\n", "html": "<p>Hello — three papers.</p>",
        "message_key": "digest:1", "unsubscribe_url": UNSUBSCRIBE, "date": NOW,
    }
    return build_message(settings, **{**values, **overrides})


def parse(raw: bytes):
    return message_from_bytes(raw, policy=default)


def content(part) -> str:
    """A part's decoded text with the SMTP line endings turned back into newlines."""
    return part.get_content().replace("\r\n", "\n")


def test_digest_message_has_the_headers_of_spec_6(mail_settings) -> None:
    msg = parse(build(mail_settings))
    assert msg["From"] == f"Paper Digest <{FROM}>"
    assert msg["To"] == "ada@example.com"
    assert msg["Subject"] == "3 new papers for 27 April 2026"
    assert msg["Date"] == "Mon, 27 Apr 2026 07:00:00 +0000"
    assert msg["Message-ID"].endswith("@example.org>")
    assert msg["List-Id"] == "Paper Digest <digest.example.org>"
    assert msg["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Precedence"] == "bulk"


def test_body_is_multipart_alternative_text_then_html_in_utf8(mail_settings) -> None:
    msg = parse(build(mail_settings, text="Grüße, naïve ∑\n", html="<p>Grüße ∑</p>"))
    assert msg.get_content_type() == "multipart/alternative"
    text, html = msg.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert html.get_content_type() == "text/html"
    assert text.get_content_charset() == html.get_content_charset() == "utf-8"
    assert content(text) == "Grüße, naïve ∑\n"
    assert content(html) == "<p>Grüße ∑</p>\n"


def test_message_id_follows_the_message_key_so_a_retry_keeps_it(mail_settings) -> None:
    first = parse(build(mail_settings, message_key="digest:7"))["Message-ID"]
    again = parse(build(mail_settings, message_key="digest:7", date=None))["Message-ID"]
    other = parse(build(mail_settings, message_key="digest:8"))["Message-ID"]
    assert first == again != other


def test_same_inputs_give_the_same_bytes(mail_settings) -> None:
    assert build(mail_settings) == build(mail_settings)


def test_without_an_unsubscribe_url_there_are_no_unsubscribe_headers(mail_settings) -> None:
    msg = parse(build(mail_settings, unsubscribe_url=None, html=None))
    assert msg["List-Unsubscribe"] is None and msg["List-Unsubscribe-Post"] is None
    assert msg.get_content_type() == "text/plain"


def test_serialized_for_smtp_crlf_only_and_no_line_over_998_octets(mail_settings) -> None:
    huge_html = "<p>" + "<b>résumé</b> and a long line of text " * 20_000 + "</p>"
    raw = build(mail_settings, html=huge_html, text="x" * 5000 + "\n",
                subject="Ünïcode " + "very long subject " * 30)
    assert len(huge_html) > 500_000
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert content(parse(raw).get_body(("html",))).rstrip("\n") == huge_html


@pytest.mark.parametrize(
    "field, value",
    [
        ("subject", "Hello\r\nBcc: victim@example.net"),
        ("subject", "Hello\nBcc: victim@example.net"),
        ("to_addr", "ada@example.com\r\nBcc: victim@example.net"),
        ("unsubscribe_url", "https://x.example/u\rX-Evil: 1"),
        ("list_id", "List <x>\nX-Evil: 1"),
        ("subject", "nul\x00byte"),
    ],
)
def test_header_injection_is_refused(mail_settings, field, value) -> None:
    with pytest.raises(HeaderInjection):
        build(mail_settings, **{field: value})


@pytest.mark.parametrize(
    "to_addr", ["a@example.com, b@example.com", "Ada <a@example.com>", "nobody"]
)
def test_to_must_be_one_plain_address(mail_settings, to_addr) -> None:
    with pytest.raises(ValueError, match="single email address"):
        build(mail_settings, to_addr=to_addr)


@pytest.mark.parametrize(
    "to_addr",
    [
        "=?utf-8?q?evil=40example.net=2C?=@example.org",  # decodes to two addresses
        "=?utf-8?b?ZXZpbEBleGFtcGxlLm5ldA==?=@example.org",
        "ada@=?utf-8?q?example.net?=",
    ],
)
def test_a_to_that_does_not_read_back_as_itself_is_refused(mail_settings, to_addr) -> None:
    with pytest.raises(HeaderInjection, match="single email address"):
        build(mail_settings, to_addr=to_addr)


@pytest.mark.parametrize(
    "to_addr", ["ada@example.org", "a.b+tag@sub.example.org", "o'neil@example.org", "x=y@ex.org"]
)
def test_plain_addresses_read_back_from_the_to_header_as_written(mail_settings, to_addr) -> None:
    parsed = parse(build(mail_settings, to_addr=to_addr))
    assert [a.addr_spec for a in parsed["To"].addresses] == [to_addr]


@pytest.fixture(scope="session")
def dkim_key(tmp_path_factory) -> tuple[Path, bytes]:
    """A fresh RSA key (openssl) and the DNS TXT record publishing its public half."""
    folder = tmp_path_factory.mktemp("dkim")
    key = folder / "dkim.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True,
                   capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                            check=True, capture_output=True).stdout
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def verify(raw: bytes, record: bytes) -> bool:
    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"mail2026._domainkey.example.org."
        return record

    return bool(dkim.verify(raw, dnsfunc=dns))


def test_dkim_signature_verifies_and_covers_both_unsubscribe_headers(
    mail_settings, dkim_key
) -> None:
    key, record = dkim_key
    signed = dataclasses.replace(mail_settings, dkim_selector="mail2026", dkim_key_file=key)
    raw = build(signed)
    assert raw.startswith(b"DKIM-Signature:")
    assert verify(raw, record)
    signature = parse(raw)["DKIM-Signature"]
    parts = "".join(signature.split()).split(";")
    tags = dict(part.split("=", 1) for part in parts if part)
    covered = {h.lower() for h in tags["h"].split(":")}
    assert {"from", "to", "subject", "date", "message-id", "list-unsubscribe",
            "list-unsubscribe-post"} <= covered
    assert tags["d"] == "example.org" and tags["s"] == "mail2026"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_dkim_signature_breaks_when_list_unsubscribe_is_altered(mail_settings, dkim_key) -> None:
    key, record = dkim_key
    signed = dataclasses.replace(mail_settings, dkim_selector="mail2026", dkim_key_file=key)
    raw = build(signed)
    tampered = raw.replace(UNSUBSCRIBE.encode(), b"https://evil.example/unsubscribe/abc.def")
    assert tampered != raw
    assert not verify(tampered, record)


def test_file_sender_writes_each_message_as_an_eml_file(tmp_path, mail_settings) -> None:
    sender = FileSender(tmp_path / "mail")
    first, second = build(mail_settings, message_key="a"), build(mail_settings, message_key="b")
    sender.send(FROM, "ada@example.com", first)
    sender.send(FROM, "ada@example.com", second)
    sender.close()
    files = sorted((tmp_path / "mail").iterdir())
    assert [f.suffix for f in files] == [".eml", ".eml"]  # no temporary files left behind
    assert {f.read_bytes() for f in files} == {first, second}


def test_make_sender_defaults_to_eml_files_in_the_instance_folder(mail_settings) -> None:
    sender = make_sender(mail_settings)
    assert isinstance(sender, FileSender)
    assert sender.mail_dir == mail_settings.instance_path / "mail"
    with_smtp = dataclasses.replace(mail_settings, smtp=SmtpConfig(host="127.0.0.1", port=2525))
    assert isinstance(make_sender(with_smtp), SMTPSender)


def smtp_sender(server, **kwargs) -> SMTPSender:
    return SMTPSender(SmtpConfig(host=server.host, port=server.port, timeout=5), **kwargs)


def test_smtp_sender_uses_one_connection_for_a_batch(smtp_server, mail_settings) -> None:
    sender = smtp_sender(smtp_server)
    for n in range(5):
        sender.send(FROM, f"r{n}@example.com", build(mail_settings, message_key=str(n)))
    sender.close()
    assert smtp_server.connections == 1
    assert [r.rcpt_tos for r in smtp_server.messages] == [[f"r{n}@example.com"] for n in range(5)]
    assert smtp_server.messages[0].mail_from == FROM
    assert smtp_server.messages[0].raw == build(mail_settings, message_key="0")


def test_smtp_sender_reconnects_when_the_server_dropped_the_idle_connection(
    smtp_server, mail_settings
) -> None:
    sender = smtp_sender(smtp_server)
    sender.send(FROM, "a@example.com", build(mail_settings))
    smtp_server.stop()
    smtp_server.start()
    sender.send(FROM, "b@example.com", build(mail_settings))
    sender.close()
    assert [r.rcpt_tos for r in smtp_server.messages] == [["a@example.com"], ["b@example.com"]]


def test_smtp_replies_map_to_temporary_and_permanent_failures(smtp_server, mail_settings) -> None:
    sender = smtp_sender(smtp_server)
    raw = build(mail_settings)
    smtp_server.fail("RCPT", "451 4.3.0 mailbox busy")
    with pytest.raises(TemporaryFailure, match=r"^451 4\.3\.0 mailbox busy \(RCPT\)$"):
        sender.send(FROM, "a@example.com", raw)
    smtp_server.fail("RCPT", "550 5.1.1 no such user")
    with pytest.raises(PermanentFailure, match=r"^550 5\.1\.1 no such user \(RCPT\)$") as refused:
        sender.send(FROM, "a@example.com", raw)
    assert refused.value.about_recipient
    smtp_server.fail("MAIL", "553 5.7.1 sender not allowed")
    # About our configuration, not the recipient: retried while the operator fixes it.
    with pytest.raises(ConnectionFailure, match=r"^553 5\.7\.1 sender not allowed \(MAIL\)$"):
        sender.send(FROM, "a@example.com", raw)
    smtp_server.fail("DATA", "452 4.3.1 insufficient storage")
    with pytest.raises(TemporaryFailure, match=r"\(DATA\)$"):
        sender.send(FROM, "a@example.com", raw)
    sender.send(FROM, "a@example.com", raw)  # the session survived every refusal
    sender.close()
    assert smtp_server.connections == 1 and len(smtp_server.messages) == 1


def test_refused_connections_are_connection_failures(smtp_server, mail_settings) -> None:
    sender = smtp_sender(smtp_server)
    smtp_server.fail("connect", "421 4.3.2 too busy")
    with pytest.raises(ConnectionFailure, match=r"^421 4\.3\.2 too busy \(connect\)"):
        sender.send(FROM, "a@example.com", build(mail_settings))
    smtp_server.stop()
    with pytest.raises(ConnectionFailure, match="connection refused"):
        sender.send(FROM, "a@example.com", build(mail_settings))


def test_rate_limit_spaces_messages(smtp_server, mail_settings) -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    config = SmtpConfig(host=smtp_server.host, port=smtp_server.port, rate_per_second=4)
    sender = SMTPSender(config, monotonic=lambda: now[0], sleep=sleep)
    for n in range(3):
        sender.send(FROM, "a@example.com", build(mail_settings, message_key=str(n)))
    sender.close()
    assert slept == [pytest.approx(0.25), pytest.approx(0.25)]
    assert len(smtp_server.messages) == 3
