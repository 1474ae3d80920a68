"""Handing built messages over: an SMTP sender and an `.eml` file sender behind one interface.

Senders turn every SMTP reply and socket error into one of two exceptions: TemporaryFailure (4xx,
refused or dropped connections, timeouts: try again later) or PermanentFailure (5xx: record it and
stop). The outbox decides what to do with them.
"""

from __future__ import annotations

import contextlib
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
from digest.message import HeaderInjection, build_message

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
    return FileSender(settings.mail_dir)


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
        self.ssl_context = ssl_context or ssl.create_default_context()
        self._monotonic = monotonic
        self._sleep = sleep
        self._conn: smtplib.SMTP | None = None
        self._last_send: float | None = None

    def send(self, from_addr: str, to_addr: str, message: bytes) -> None:
        """Deliver one message; a connection found dead before MAIL is reopened once."""
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
        """Open, greet, secure and authenticate; every failure is a ConnectionFailure."""
        cfg = self.config
        where = f"{cfg.host}:{cfg.port}"
        conn: smtplib.SMTP | None = None
        try:
            if cfg.implicit_tls:
                conn = smtplib.SMTP_SSL(cfg.host, cfg.port, local_hostname=self.local_hostname,
                                        timeout=cfg.timeout, context=self.ssl_context)
            else:
                conn = smtplib.SMTP(cfg.host, cfg.port, local_hostname=self.local_hostname,
                                    timeout=cfg.timeout)
            conn.ehlo()
            if cfg.starttls:
                conn.starttls(context=self.ssl_context)
                conn.ehlo()
            if cfg.username is not None:
                conn.login(cfg.username, cfg.password or "")
        except smtplib.SMTPConnectError as exc:  # a refusing greeting such as 421 or 554
            error = reply_error(exc.smtp_code, exc.smtp_error, "connect")
            raise ConnectionFailure(f"{error} from {where}") from exc
        except smtplib.SMTPResponseException as exc:
            _close_quietly(conn)
            stage = "AUTH" if isinstance(exc, smtplib.SMTPAuthenticationError) else "EHLO"
            # Not a verdict on any recipient: even a 5xx here is retried (the operator can fix it).
            raise ConnectionFailure(str(reply_error(exc.smtp_code, exc.smtp_error, stage))) from exc
        except (smtplib.SMTPException, OSError) as exc:
            _close_quietly(conn)
            reason = _describe(exc)
            raise ConnectionFailure(f"cannot reach the SMTP server {where}: {reason}") from exc
        return conn

    def _mail_from(self, conn: smtplib.SMTP, from_addr: str) -> None:
        code, reply = conn.mail(from_addr)
        if code != 250:
            self._reset_after(conn, code)
            error = reply_error(code, reply, "MAIL")
            # A refused sender is about our configuration, never a verdict on one recipient.
            raise error if isinstance(error, PermanentFailure) else ConnectionFailure(str(error))

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
    """Writes each message as an `.eml` file; the default when no SMTP server is configured."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = Path(mail_dir)

    def send(self, from_addr: str, to_addr: str, message: bytes) -> None:
        """Write atomically (temp file, then rename), so readers never see half a message."""
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
