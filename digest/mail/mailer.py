"""Handing built messages over: an SMTP sender and an `.eml` file sender behind one interface.

Senders turn every SMTP reply and socket error into one of two exceptions: TemporaryFailure (4xx,
refused or dropped connections, timeouts, TLS failures: try again later) or PermanentFailure (5xx,
including refused credentials: record it and stop). The outbox decides what to do with them.

TLS is always verified: the server's certificate must chain to a trusted CA (the system's, or the
`?cafile=` of DIGEST_SMTP_URL) and name the host of the URL. There is no switch to turn that off.
"""

from __future__ import annotations

import contextlib
import functools
import os
import smtplib
import socket
import ssl
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from digest.config import Settings, SmtpConfig
from digest.mail.message import HeaderInjection, build_message

__all__ = [
    "ConnectionFailure",
    "FileSender",
    "HeaderInjection",
    "PermanentFailure",
    "SMTPSender",
    "Sender",
    "TemporaryFailure",
    "build_message",
    "make_sender",
]


class TemporaryFailure(Exception):
    """The server said 4xx, or could not be reached or talked to: retry later."""


class ConnectionFailure(TemporaryFailure):
    """No SMTP session could be opened at all; the next message would fare no better."""


class PermanentFailure(Exception):
    """The server said 5xx: record it and do not retry.

    `stage` is the SMTP command that was refused; a refusal at RCPT or DATA is about the
    recipient (or this message to them), one at MAIL or AUTH is about us.
    """

    def __init__(self, message: str, stage: str = "RCPT") -> None:
        super().__init__(message)
        self.stage = stage

    @property
    def about_recipient(self) -> bool:
        """Whether this refusal should count against the recipient's address."""
        return self.stage in ("RCPT", "DATA")


class Sender(Protocol):
    """Something that can deliver one message to one recipient."""

    def send(self, from_addr: str, to_addr: str, message: bytes) -> None:
        """Deliver or raise TemporaryFailure / PermanentFailure."""

    def close(self) -> None:
        """Release any connection."""


def make_sender(settings: Settings) -> Sender:
    """SMTP when DIGEST_SMTP_URL is set, else `.eml` files in instance/mail/."""
    if settings.smtp is not None:
        return SMTPSender(settings.smtp, local_hostname=settings.mail_domain)
    return FileSender(settings.mail_dir, return_path=settings.bounce_address is not None)


@functools.lru_cache(maxsize=8)
def _tls_context(
    cafile: str | None, _cert_file: str | None, _cert_dir: str | None
) -> ssl.SSLContext:
    """create_default_context verifies the chain and the hostname; without a cafile it trusts
    the system's CAs (and honours SSL_CERT_FILE / SSL_CERT_DIR, as OpenSSL does).

    Made once per process: loading the CA store costs milliseconds, and `digest serve` opens a
    sender for every few confirmations. (A changed CA bundle is read at the next start.)"""
    return ssl.create_default_context(cafile=cafile)


def reply_error(code: int, reply: bytes | str, stage: str) -> Exception:
    """The exception for an SMTP reply: '451 4.3.0 mailbox busy (RCPT)'."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    text = " ".join(text.split())
    message = f"{code} {text} ({stage})" if text else f"{code} ({stage})"
    if 500 <= code <= 599:
        return PermanentFailure(message, stage)
    return TemporaryFailure(message)


class SMTPSender:
    """One SMTP connection, opened on first use and reused for a batch; reopened when dropped."""

    def __init__(
        self,
        config: SmtpConfig,
        *,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.local_hostname = local_hostname or "localhost"
        self._ssl_context = ssl_context
        self._monotonic = monotonic
        self._sleep = sleep
        self._conn: smtplib.SMTP | None = None
        self._last_send: float | None = None
        # Problems with our own configuration (login refused, sender refused) are retried like
        # an outage: the operator can fix DIGEST_SMTP_URL within the 20-hour retry window, and
        # no digest is lost to a typo. One attempt per run, though: retrying the same wrong
        # password for every message could get the account locked.
        self._login_refused: ConnectionFailure | None = None

    @property
    def ssl_context(self) -> ssl.SSLContext:
        """The TLS settings, made when a connection first needs them (plain SMTP never does)."""
        if self._ssl_context is None:
            cafile = self.config.cafile
            self._ssl_context = _tls_context(
                str(cafile) if cafile is not None else None,
                os.environ.get("SSL_CERT_FILE"),  # part of the key: OpenSSL reads them at
                os.environ.get("SSL_CERT_DIR"),  # creation, so a change gets a new context
            )
        return self._ssl_context

    def send(self, from_addr: str, to_addr: str, message: bytes) -> None:
        """Deliver one message; a connection found dead before MAIL is reopened once."""
        if self._login_refused is not None:
            # Trying the same wrong password once per message could get the account locked.
            raise ConnectionFailure(str(self._login_refused))
        self._throttle()
        reused = self._conn is not None
        conn = self._connection()
        try:
            try:
                self._mail_from(conn, from_addr)
            except smtplib.SMTPServerDisconnected:
                if not reused:
                    raise
                self.close()  # an idle connection the server timed out: reopen it once
                conn = self._connection()
                self._mail_from(conn, from_addr)
            self._rcpt_and_data(conn, to_addr, message)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.close()
            raise TemporaryFailure(f"connection lost while sending ({_describe(exc)})") from exc

    def probe(self) -> list[str]:
        """Open a session as the first send would (EHLO, STARTTLS, AUTH), then QUIT.

        Returns what was done ("EHLO", "STARTTLS", "AUTH as user"); raises the ConnectionFailure
        a send would have met. `digest doctor` checks the SMTP settings with it.
        """
        self.close()
        self._connection()
        cfg = self.config
        done = ["TLS" if cfg.implicit_tls else "EHLO"]
        done += ["STARTTLS"] if cfg.starttls else []
        done += [f"AUTH as {cfg.username}"] if cfg.username is not None else []
        self.close()
        return done

    def close(self) -> None:
        """QUIT politely if the connection still stands."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

    def _connection(self) -> smtplib.SMTP:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> smtplib.SMTP:
        """Open, greet, secure and authenticate.

        Failures are ConnectionFailures (retried), except a login the server refuses with 5xx,
        or cannot offer at all: a PermanentFailure at the AUTH stage, remembered by this sender.
        """
        cfg = self.config
        where = f"{cfg.host}:{cfg.port}"
        conn: smtplib.SMTP | None = None
        stage = "connect"
        try:
            if cfg.implicit_tls:
                conn = smtplib.SMTP_SSL(cfg.host, cfg.port, local_hostname=self.local_hostname,
                                        timeout=cfg.timeout, context=self.ssl_context)
            else:
                conn = smtplib.SMTP(cfg.host, cfg.port, local_hostname=self.local_hostname,
                                    timeout=cfg.timeout)
            stage = "EHLO"
            conn.ehlo()
            if cfg.starttls:
                stage = "STARTTLS"
                _require_extension(conn, "starttls", f"the SMTP server {where} does not offer "
                                   "STARTTLS, which DIGEST_SMTP_URL asks for")
                conn.starttls(context=self.ssl_context)
                conn.ehlo()
            if cfg.username is not None:
                stage = "AUTH"
                self._login(conn, where)
        except smtplib.SMTPConnectError as exc:  # a refusing greeting such as 421 or 554
            error = reply_error(exc.smtp_code, exc.smtp_error, "connect")
            raise ConnectionFailure(f"{error} from {where}") from exc
        except smtplib.SMTPResponseException as exc:
            _close_quietly(conn)
            raise ConnectionFailure(str(reply_error(exc.smtp_code, exc.smtp_error, stage))) from exc
        except (PermanentFailure, TemporaryFailure):
            _close_quietly(conn)
            raise
        except ssl.SSLCertVerificationError as exc:
            _close_quietly(conn)
            raise ConnectionFailure(_untrusted(where, exc)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            _close_quietly(conn)
            reason = _describe(exc)
            raise ConnectionFailure(f"cannot reach the SMTP server {where}: {reason}") from exc
        return conn

    def _login(self, conn: smtplib.SMTP, where: str) -> None:
        """AUTH with the URL's credentials; a refusal is remembered for this run (see __init__)."""
        cfg = self.config
        if not conn.has_extn("auth"):
            if conn.has_extn("starttls") and not _encrypted(conn):
                reason = (f"the SMTP server {where} offers AUTH only after STARTTLS: add "
                          "?starttls=true to DIGEST_SMTP_URL")
            else:
                reason = (f"the SMTP server {where} does not offer AUTH: remove user:pass from "
                          "DIGEST_SMTP_URL or use the server's submission port")
            self._login_refused = ConnectionFailure(reason)
            raise self._login_refused
        try:
            conn.login(cfg.username or "", cfg.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            if not 500 <= exc.smtp_code <= 599:
                raise  # 454 and the like: a temporary problem on the server's side
            reply = str(reply_error(exc.smtp_code, exc.smtp_error, "AUTH"))
            # Not a verdict on any recipient, so it never counts against a subscriber.
            self._login_refused = ConnectionFailure(
                f"the SMTP server {where} refused the login of {cfg.username!r} ({reply}): "
                "check user:pass in DIGEST_SMTP_URL"
            )
            raise self._login_refused from exc

    def _mail_from(self, conn: smtplib.SMTP, from_addr: str) -> None:
        code, reply = conn.mail(from_addr)
        if code != 250:
            hint = self._mail_hint(conn, code)
            self._reset_after(conn, code)
            error = reply_error(code, reply, "MAIL")
            # A refused sender is about our configuration, never a verdict on one recipient:
            # retried like an outage (see __init__), with what to change where we know it.
            raise ConnectionFailure(f"{error}: {hint}" if hint else str(error))

    def _mail_hint(self, conn: smtplib.SMTP, code: int) -> str | None:
        """What to change in DIGEST_SMTP_URL when MAIL is refused with 530 (TLS or AUTH first)."""
        if code != 530:
            return None
        if conn.has_extn("starttls") and not _encrypted(conn):
            return "the server requires TLS; add ?starttls=true to DIGEST_SMTP_URL"
        if self.config.username is None:
            return "the server requires a login; add user:pass@ to DIGEST_SMTP_URL"
        return None

    def _rcpt_and_data(self, conn: smtplib.SMTP, to_addr: str, message: bytes) -> None:
        code, reply = conn.rcpt(to_addr)
        if code not in (250, 251):
            self._reset_after(conn, code)
            raise reply_error(code, reply, "RCPT")
        try:
            code, reply = conn.data(message)
        except smtplib.SMTPDataError as exc:  # refused the DATA command itself
            self._reset_after(conn, exc.smtp_code)
            raise reply_error(exc.smtp_code, exc.smtp_error, "DATA") from exc
        if code != 250:
            self._reset_after(conn, code)
            raise reply_error(code, reply, "DATA")

    def _reset_after(self, conn: smtplib.SMTP, code: int) -> None:
        """After a refusal: RSET to go on, or drop the session when the server is leaving (421)."""
        if code == 421 or code < 0:
            self.close()
            return
        try:
            conn.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def _throttle(self) -> None:
        """Keep to SmtpConfig.rate_per_second by sleeping between messages."""
        rate = self.config.rate_per_second
        if rate and self._last_send is not None:
            wait = self._last_send + 1.0 / rate - self._monotonic()
            if wait > 0:
                self._sleep(wait)
        self._last_send = self._monotonic()


class FileSender:
    """Writes each message as an `.eml` file; the default when no SMTP server is configured.

    With `return_path`, each file starts with `Return-Path: <envelope sender>`, as a local
    delivery agent writes it, so the VERP address of DIGEST_BOUNCE_ADDRESS can be seen; the
    message itself (and its DKIM signature) is unchanged below that line.
    """

    def __init__(self, mail_dir: Path, *, return_path: bool = False) -> None:
        self.mail_dir = Path(mail_dir)
        self.return_path = return_path

    def send(self, from_addr: str, to_addr: str, message: bytes) -> None:
        """Write atomically (temp file, then rename), so readers never see half a message."""
        if self.return_path:
            message = b"Return-Path: <%s>\r\n" % from_addr.encode("ascii") + message
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        name = f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{uuid.uuid4().hex[:12]}.eml"
        fd, tmp = tempfile.mkstemp(dir=self.mail_dir, prefix=".tmp-", suffix=".eml")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(message)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.mail_dir / name)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise TemporaryFailure(f"cannot write to {self.mail_dir}: {exc.strerror}") from exc

    def close(self) -> None:
        """Nothing to release."""


def _untrusted(where: str, exc: ssl.SSLCertVerificationError) -> str:
    """The one-sentence error for a certificate that failed verification."""
    return (
        f"the SMTP server {where} presented a certificate that cannot be trusted "
        f"({exc.verify_message}); if a private CA signed it, name that CA's certificate "
        "with ?cafile= in DIGEST_SMTP_URL"
    )


def _encrypted(conn: smtplib.SMTP) -> bool:
    """Whether this SMTP session runs over TLS (implicit, or after STARTTLS)."""
    return isinstance(conn.sock, ssl.SSLSocket)


def _require_extension(conn: smtplib.SMTP, name: str, reason: str) -> None:
    """Raise a ConnectionFailure naming `reason` when the EHLO reply lacks this extension."""
    if not conn.has_extn(name):
        raise ConnectionFailure(reason)


def _close_quietly(conn: smtplib.SMTP | None) -> None:
    if conn is not None:
        with contextlib.suppress(OSError):
            conn.close()


def _describe(exc: BaseException) -> str:
    """A short reason for a socket-level error."""
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__
