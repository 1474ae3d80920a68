"""`digest doctor` against a real DNS server (dnslib) and a real SMTP server (aiosmtpd, STARTTLS
and AUTH) on loopback: a good setup passes, and each broken one is named."""

from __future__ import annotations

import base64
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner
from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer
from smtp_fixture import SmtpServer

from digest.cli import main
from digest.operate.dnschecks import (
    _private_numbers,
    _public_key_b64,
    check_dmarc,
    check_spf,
    make_resolver,
)

USER, PASSWORD = "digest@example.org", "s3cret"
SELECTOR = "mail2026"


class Zone(BaseResolver):
    """TXT records by name; anything else is NXDOMAIN."""

    def __init__(self) -> None:
        self.records: dict[str, list[str]] = {}

    def resolve(self, request: Any, handler: Any) -> Any:
        reply, name = request.reply(), str(request.q.qname)
        if request.q.qtype == QTYPE.TXT and name in self.records:
            for text in self.records[name]:
                # A TXT string holds at most 255 bytes: long DKIM keys are split, as in a zone.
                chunks = [text[i:i + 255] for i in range(0, len(text), 255)]
                reply.add_answer(RR(name, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
        else:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@pytest.fixture
def zone() -> Iterator[tuple[Zone, int]]:
    resolver = Zone()
    server = DNSServer(resolver, address="127.0.0.1", port=0,
                       logger=DNSLogger(prefix=False, logf=lambda s: None))
    server.start_thread()
    try:
        yield resolver, server.server.server_address[1]
    finally:
        server.stop()


def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        pytest.skip("openssl is needed to make a test key and certificate")
    return path


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> dict[str, Path]:
    """Two DKIM keys and a loopback certificate, made with openssl."""
    folder = tmp_path_factory.mktemp("doctor")
    out = {"dkim": folder / "dkim.pem", "other": folder / "other.pem",
           "cert": folder / "cert.pem", "key": folder / "key.pem"}
    for name in ("dkim", "other"):
        subprocess.run([openssl(), "genrsa", "-out", str(out[name]), "2048"], check=True,
                       capture_output=True)
    subprocess.run([openssl(), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(out["key"]), "-out", str(out["cert"])],
                   check=True, capture_output=True)
    return out


def dkim_record(key: Path) -> str:
    public = subprocess.run([openssl(), "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                            check=True, capture_output=True).stdout
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode()


def accounts(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data == (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


@pytest.fixture
def smtp(keys) -> Iterator[SmtpServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(keys["cert"], keys["key"])
    server = SmtpServer(options={"tls_context": context, "require_starttls": True,
                                 "authenticator": accounts, "auth_require_tls": True})
    server.start()
    yield server
    server.stop()


@pytest.fixture
def good(zone, smtp, keys, cli_env, feeds_dir, monkeypatch) -> dict[str, str]:
    """A setup with nothing wrong: the environment, with the zone published."""
    # No SpamAssassin in these (it is optional, and slow): its own test is at the end.
    monkeypatch.setattr("digest.operate.doctor.find_spamassassin", lambda: None)
    records, port = zone
    records.records.update({
        "example.org.": ["v=spf1 ip4:192.0.2.10 -all", "google-site-verification=abc"],
        "_dmarc.example.org.": ["v=DMARC1; p=quarantine; rua=mailto:dmarc@example.org"],
        f"{SELECTOR}._domainkey.example.org.": [dkim_record(keys["dkim"])],
    })
    return {
        **cli_env, "DIGEST_MAIL_FROM": "Paper Digest <digest@example.org>",
        "DIGEST_BASE_URL": "https://digest.example.org",
        "DIGEST_SMTP_URL": f"smtp://digest%40example.org:{PASSWORD}@127.0.0.1:{smtp.port}"
                           f"?starttls=true&cafile={keys['cert']}&timeout=5",
        "DIGEST_DKIM_SELECTOR": SELECTOR, "DIGEST_DKIM_KEY_FILE": str(keys["dkim"]),
        "DIGEST_BOUNCE_ADDRESS": "bounces@example.org",
        "DIGEST_FEEDS": str(feeds_dir / "arxiv-rss-cs.CL-2026-04-27-excerpt.xml"),
        "DNS": f"127.0.0.1:{port}",
    }


def doctor(env: dict[str, str]):
    result = CliRunner().invoke(main, ["doctor", "--dns", env["DNS"]], env=env)
    lines = {line.split(":")[0][5:]: line for line in result.output.splitlines()}
    return result.exit_code, lines


def test_a_good_setup_passes_every_check(good) -> None:
    code, lines = doctor(good)
    assert code == 0, lines
    assert all(line.startswith("ok ") for line in lines.values()), lines
    assert set(lines) == {"smtp", "dkim", "spf", "dmarc", "base url", "bounces",
                          "sample digest", "feed"}
    assert "STARTTLS, AUTH as digest@example.org" in lines["smtp"]


def test_no_smtp_server_listening_fails(good, smtp) -> None:
    smtp.stop()
    code, lines = doctor(good)
    assert code == 1
    assert lines["smtp"].startswith("fail smtp: cannot reach the SMTP server 127.0.0.1:")


def test_a_wrong_login_fails_and_says_what_to_check(good) -> None:
    code, lines = doctor({**good, "DIGEST_SMTP_URL": good["DIGEST_SMTP_URL"].replace(
        PASSWORD, "wrong")})
    assert code == 1
    assert lines["smtp"].startswith("fail smtp: the SMTP server")
    assert "refused the login" in lines["smtp"] and "user:pass" in lines["smtp"]


def test_a_dkim_key_missing_from_dns_fails_and_gives_the_record(good, zone, keys) -> None:
    del zone[0].records[f"{SELECTOR}._domainkey.example.org."]
    code, lines = doctor(good)
    assert code == 1
    assert lines["dkim"].startswith("fail dkim: no DKIM key in DNS at mail2026._domainkey.")
    assert dkim_record(keys["dkim"]).split("p=")[1] in lines["dkim"]


def test_a_different_dkim_key_in_dns_fails(good, zone, keys) -> None:
    zone[0].records[f"{SELECTOR}._domainkey.example.org."] = [dkim_record(keys["other"])]
    code, lines = doctor(good)
    assert code == 1
    assert "is not the one in DIGEST_DKIM_KEY_FILE" in lines["dkim"]


def test_the_record_doctor_prints_is_what_openssl_writes(keys) -> None:
    expected = dkim_record(keys["dkim"]).split("p=")[1]
    assert _public_key_b64(*_private_numbers(keys["dkim"])) == expected


@pytest.mark.parametrize(("name", "check"), [("example.org.", "spf"),
                                             ("_dmarc.example.org.", "dmarc")])
def test_no_spf_or_no_dmarc_fails(good, zone, name, check) -> None:
    zone[0].records[name] = ["something else"]
    code, lines = doctor(good)
    assert code == 1
    assert lines[check].startswith(f"fail {check}: no {check.upper()} record")


def test_an_http_base_url_warns(good) -> None:
    code, lines = doctor({**good, "DIGEST_BASE_URL": "http://digest.example.org"})
    assert code == 0
    assert lines["base url"].startswith("warn base url: DIGEST_BASE_URL is http://")


def test_an_oversized_digest_fails(good) -> None:
    code, lines = doctor({**good, "DIGEST_MAX_PAPERS": "60"})
    assert code == 1
    assert lines["sample digest"].startswith("fail sample digest:")
    assert "over 100 KB" in lines["sample digest"] and "DIGEST_MAX_PAPERS" in lines["sample digest"]


def test_a_missing_feed_file_and_an_unreachable_feed_fail(good, tmp_path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**good, "DIGEST_FEEDS": f"{tmp_path / 'none.xml'},http://127.0.0.1:{port}/feed"}
    result = CliRunner().invoke(main, ["doctor", "--dns", env["DNS"]], env=env)
    assert result.exit_code == 1
    feeds = [line for line in result.output.splitlines() if line.startswith("fail feed")]
    assert len(feeds) == 2, result.output


def test_no_resolver_answering_fails_the_dns_checks(settings) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))  # bound but never answering
        resolver = make_resolver(f"127.0.0.1:{sock.getsockname()[1]}", timeout=0.5)
        for check in (check_spf, check_dmarc):
            result = check(settings, resolver)
            assert result.level == "fail" and "cannot query DNS" in result.message


def test_spamassassin_scores_the_sample_when_installed(good, monkeypatch) -> None:
    monkeypatch.undo()
    if shutil.which("spamassassin") is None:
        pytest.skip("SpamAssassin is not installed (Debian: apt-get install spamassassin)")
    _, lines = doctor(good)
    line = lines["spamassassin"]
    assert line.startswith("ok   spamassassin: sample digest scores"), line
    # The two rules our own HTML used to trip (a 1px preheader in the background colour).
    assert "HTML_FONT_LOW_CONTRAST" not in line and "FONT_INVIS_MSGID" not in line
