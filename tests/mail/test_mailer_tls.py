"""SMTP over TLS and with AUTH, against a real aiosmtpd server on loopback.

The server's certificate is self-signed and made by `openssl` when the tests start (the
`cryptography` package is not a dependency). The sender trusts it the way an operator would trust
a private CA: through `?cafile=` in DIGEST_SMTP_URL, or the standard SSL_CERT_FILE variable.
Verification is never switched off, so these tests also show that production checks the chain
and the host name.
"""

from __future__ import annotations

import dataclasses
import shutil
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from smtp_fixture import SmtpServer
from sqlalchemy import select

from digest.config import SmtpConfig, load_settings
from digest.mail.mailer import ConnectionFailure, SMTPSender
from digest.mail.outbox import deliver, queue_email
from digest.models import OutboxMessage, Subscriber

FROM = "digest@example.org"
RAW = b"From: digest@example.org\r\nTo: ada@example.com\r\nSubject: hi\r\n\r\nhello\r\n"
USER, PASSWORD = "ada@example.org", "s:cret pass"
USERINFO = "ada%40example.org:s%3Acret%20pass"


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate and its key, as PEM files."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        """What the SMTP server presents."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context


def make_certificate(folder: Path, common_name: str, alt_names: str) -> Certificate:
    """A one-day self-signed RSA certificate for `alt_names`, made with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no test certificate can be made: neither `cryptography` nor openssl is here")
    cert, key = folder / f"{common_name}.crt", folder / f"{common_name}.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={common_name}", "-addext", f"subjectAltName={alt_names}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    return Certificate(cert, key)


@pytest.fixture(scope="session")
def loopback_cert(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A certificate valid for 127.0.0.1 and localhost."""
    folder = tmp_path_factory.mktemp("tls")
    return make_certificate(folder, "localhost", "DNS:localhost,IP:127.0.0.1")


@pytest.fixture(scope="session")
def other_host_cert(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A certificate for mail.example.org only."""
    folder = tmp_path_factory.mktemp("tls-other")
    return make_certificate(folder, "mail.example.org", "DNS:mail.example.org")


@pytest.fixture
def serve() -> Iterator[Callable[..., SmtpServer]]:
    """Start SMTP servers with aiosmtpd Controller options; all are stopped after the test."""
    servers: list[SmtpServer] = []

    def start(**options: Any) -> SmtpServer:
        server = SmtpServer(options=options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(autouse=True)
def no_ssl_cert_file(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust only what a test names: the system CAs, unless it sets SSL_CERT_FILE itself."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


class Accounts:
    """An aiosmtpd authenticator that knows one user and records every attempt."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> AuthResult:
        self.attempts.append(mechanism)
        ok = isinstance(auth_data, LoginPassword) and auth_data == (
            USER.encode(), PASSWORD.encode())
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def config(url: str, tmp_path: Path) -> SmtpConfig:
    """DIGEST_SMTP_URL parsed as at start-up."""
    env = {"DIGEST_SMTP_URL": url, "DIGEST_SECRET_KEY": "k"}
    smtp = load_settings(env, instance_path=tmp_path).smtp
    assert smtp is not None
    return smtp


def send_once(url: str, tmp_path: Path) -> None:
    """One message through a fresh SMTPSender configured from `url`."""
    sender = SMTPSender(config(url, tmp_path))
    try:
        sender.send(FROM, "ada@example.com", RAW)
    finally:
        sender.close()


def test_starttls_upgrades_the_connection_before_mail(serve, loopback_cert, tmp_path) -> None:
    server = serve(tls_context=loopback_cert.server_context(), require_starttls=True)
    send_once(f"smtp://127.0.0.1:{server.port}?starttls=true&cafile={loopback_cert.cert}"
              "&timeout=5", tmp_path)
    assert [(m.rcpt_tos, m.tls, m.raw) for m in server.messages] == [
        (["ada@example.com"], True, RAW)]


def test_smtps_delivers_over_implicit_tls(serve, loopback_cert, tmp_path) -> None:
    server = serve(ssl_context=loopback_cert.server_context())
    send_once(f"smtps://127.0.0.1:{server.port}?cafile={loopback_cert.cert}&timeout=5", tmp_path)
    assert [(m.rcpt_tos, m.tls) for m in server.messages] == [(["ada@example.com"], True)]


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
@pytest.mark.parametrize("scheme", ["starttls", "smtps"])
def test_auth_with_the_urls_credentials_delivers(
    serve, loopback_cert, tmp_path, scheme, mechanism
) -> None:
    accounts = Accounts()
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[mechanism]
    options: dict[str, Any] = {"authenticator": accounts, "auth_exclude_mechanism": [other],
                               "auth_required": True}
    if scheme == "starttls":
        server = serve(tls_context=loopback_cert.server_context(), require_starttls=True,
                       **options)
        url = f"smtp://{USERINFO}@127.0.0.1:{server.port}?starttls=true&"
    else:
        # aiosmtpd only counts STARTTLS as TLS, so it must be told that AUTH over implicit TLS
        # is fine; the message's `tls` flag below shows the session was encrypted all along.
        server = serve(ssl_context=loopback_cert.server_context(), auth_require_tls=False,
                       **options)
        url = f"smtps://{USERINFO}@127.0.0.1:{server.port}?"
    send_once(f"{url}cafile={loopback_cert.cert}&timeout=5", tmp_path)
    assert accounts.attempts == [mechanism]
    assert [(m.login, m.tls) for m in server.messages] == [(USER, True)]


def test_wrong_credentials_defer_the_messages_and_never_count_against_the_subscriber(
    services, clock, serve, loopback_cert, tmp_path
) -> None:
    accounts = Accounts()
    server = serve(tls_context=loopback_cert.server_context(), require_starttls=True,
                   authenticator=accounts, auth_required=True)
    url = (f"smtp://ada%40example.org:wrong@127.0.0.1:{server.port}?starttls=true"
           f"&cafile={loopback_cert.cert}&timeout=5")
    settings = dataclasses.replace(services.settings, smtp=config(url, tmp_path),
                                   mail_from=f"Paper Digest <{FROM}>")
    services = dataclasses.replace(services, settings=settings)
    with services.sessions.begin() as session:
        subscriber = Subscriber(email="ada@example.com", status="confirmed", token_nonce="n0",
                                keywords="x")
        session.add(subscriber)
        session.flush()
        for n in range(2):
            queue_email(session, settings, kind="notice", dedupe_key=f"notice:{n}",
                        to_addr="ada@example.com", subject="s", text="t\n", html=None,
                        now=clock(), subscriber_id=subscriber.id)

    stats = deliver(services, worker_id="w1", clock=clock)

    # Deferred, not failed: the operator fixes DIGEST_SMTP_URL and nothing is lost.
    assert (stats.sent, stats.failed, stats.deferred) == (0, 0, 2)
    with services.sessions() as session:
        errors = set(session.scalars(select(OutboxMessage.last_error)))
        ada = session.scalars(select(Subscriber)).one()
    assert len(errors) == 1
    error = errors.pop()
    assert error is not None
    assert error.startswith(f"the SMTP server 127.0.0.1:{server.port} refused the login of "
                            f"'{USER}' (535 ")
    assert error.endswith("(AUTH)): check user:pass in DIGEST_SMTP_URL")
    assert "\n" not in error and "wrong" not in error  # one sentence, no password
    assert (ada.status, ada.hard_failures) == ("confirmed", 0)
    # One login (smtplib tries PLAIN, then LOGIN) for the whole run, not one per message.
    assert server.connections == 1 and accounts.attempts == ["PLAIN", "LOGIN"]
    assert server.messages == []


def test_a_server_that_requires_starttls_names_the_fix(serve, loopback_cert, tmp_path) -> None:
    server = serve(tls_context=loopback_cert.server_context(), require_starttls=True)
    with pytest.raises(ConnectionFailure) as refused:
        send_once(f"smtp://127.0.0.1:{server.port}?timeout=5", tmp_path)
    assert str(refused.value) == (
        "530 Must issue a STARTTLS command first (MAIL): the server requires TLS; "
        "add ?starttls=true to DIGEST_SMTP_URL")
    assert server.messages == []


def test_credentials_for_a_server_that_wants_starttls_first_name_the_fix(
    serve, loopback_cert, tmp_path
) -> None:
    accounts = Accounts()
    server = serve(tls_context=loopback_cert.server_context(), require_starttls=True,
                   authenticator=accounts)
    with pytest.raises(ConnectionFailure) as refused:
        send_once(f"smtp://{USERINFO}@127.0.0.1:{server.port}?timeout=5", tmp_path)
    assert str(refused.value) == (
        f"the SMTP server 127.0.0.1:{server.port} offers AUTH only after STARTTLS: "
        "add ?starttls=true to DIGEST_SMTP_URL")
    assert accounts.attempts == []  # the password never crossed the wire in clear


def test_starttls_asked_of_a_server_without_it_never_falls_back_to_plain_text(
    serve, tmp_path
) -> None:
    server = serve()
    with pytest.raises(ConnectionFailure, match="does not offer STARTTLS, which DIGEST_SMTP_URL"):
        send_once(f"smtp://127.0.0.1:{server.port}?starttls=true&timeout=5", tmp_path)
    assert server.messages == []


@pytest.mark.parametrize("scheme", ["starttls", "smtps"])
def test_a_certificate_no_trusted_ca_signed_is_refused(
    serve, loopback_cert, tmp_path, scheme
) -> None:
    context = loopback_cert.server_context()
    if scheme == "starttls":
        server = serve(tls_context=context)
        url = f"smtp://127.0.0.1:{server.port}?starttls=true&timeout=5"
    else:
        server = serve(ssl_context=context)
        url = f"smtps://127.0.0.1:{server.port}?timeout=5"
    with pytest.raises(ConnectionFailure) as refused:
        send_once(url, tmp_path)
    assert str(refused.value) == (
        f"the SMTP server 127.0.0.1:{server.port} presented a certificate that cannot be "
        "trusted (self-signed certificate); if a private CA signed it, name that CA's "
        "certificate with ?cafile= in DIGEST_SMTP_URL")
    assert server.messages == []


def test_a_trusted_certificate_for_another_host_is_refused(
    serve, other_host_cert, tmp_path
) -> None:
    server = serve(ssl_context=other_host_cert.server_context())
    with pytest.raises(ConnectionFailure, match=r"cannot be trusted \(.*mismatch"):
        send_once(f"smtps://127.0.0.1:{server.port}?cafile={other_host_cert.cert}&timeout=5",
                  tmp_path)
    assert server.messages == []


def test_ssl_cert_file_is_honoured_as_openssl_does(
    serve, loopback_cert, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(loopback_cert.cert))
    server = serve(ssl_context=loopback_cert.server_context())
    send_once(f"smtps://127.0.0.1:{server.port}?timeout=5", tmp_path)
    assert [m.tls for m in server.messages] == [True]
