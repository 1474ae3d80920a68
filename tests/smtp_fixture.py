"""A real SMTP server (aiosmtpd) on loopback for tests, with faults programmed per SMTP command.

    def test_x(smtp_server):
        smtp_server.fail("RCPT", "451 4.3.0 mailbox busy", recipient="a@example.org")
        smtp_server.fail("connect", "421 4.3.2 try later")       # the next connection only
        smtp_server.fail("DATA", "550 5.7.1 rejected", times=None)  # every message
        smtp_server.drop_after_data()                           # read the message, then hang up
        smtp_server.stop(); ...; smtp_server.start()            # down, then back on the same port
        smtp_server.messages                                    # [Received(...)], accepted only
        SmtpServer(options={"tls_context": ctx, "authenticator": f})  # aiosmtpd Controller options

Set faults after the server has started: aiosmtpd opens one connection of its own at start-up.
Also here, for every delivery test: `smtp_services` (the conftest `services`, sending to
`smtp_server`) and `clock`, a settable clock to pass to `outbox.deliver(clock=...)`.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from functools import cached_property
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from digest.config import SmtpConfig
from digest.services import Services

STAGES = ("connect", "MAIL", "RCPT", "DATA")


@dataclass
class Received:
    """One message the server accepted, with its envelope."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    tls: bool = False  # whether it came over TLS (implicit or after STARTTLS)
    login: str | None = None  # the user name the client authenticated as

    @cached_property
    def message(self) -> EmailMessage:
        """The parsed message (parsed on first use: big test runs only count)."""
        parsed = message_from_bytes(self.raw, policy=default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Fault:
    """Reply `reply` at `stage` `times` times (None: always); a None reply at DATA hangs up."""

    stage: str
    reply: str | None
    recipient: str | None = None
    times: int | None = 1


@dataclass
class SmtpServer:
    """An aiosmtpd server on 127.0.0.1 whose replies tests can program."""

    host: str = "127.0.0.1"
    port: int = 0
    messages: list[Received] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    connections: int = 0
    # Passed to aiosmtpd's Controller: ssl_context (implicit TLS), tls_context and
    # require_starttls (STARTTLS), authenticator and auth_require_tls (AUTH), ...
    options: dict[str, Any] = field(default_factory=dict)
    _controller: Controller | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """A DIGEST_SMTP_URL for this server, with a short timeout."""
        return f"smtp://{self.host}:{self.port}?timeout=5"

    @property
    def running(self) -> bool:
        """Whether the server is listening."""
        return self._controller is not None

    def start(self) -> None:
        """Listen on `port` (chosen once, so a restarted server is found at the same place)."""
        if not self.port:
            self.port = free_port()
        self._controller = _FaultyController(self, hostname=self.host, port=self.port,
                                             **self.options)
        self._controller.start()
        self.connections = 0  # not counting the controller's own readiness probe

    def stop(self) -> None:
        """Stop listening: connections are refused until start() again."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def fail(self, stage: str, reply: str | None, *, recipient: str | None = None,
             times: int | None = 1) -> None:
        """Program a reply for the next `times` commands of `stage` (for `recipient` only)."""
        assert stage in STAGES, stage
        with self._lock:
            self.faults.append(Fault(stage, reply, recipient, times))

    def drop_after_data(self, times: int | None = 1) -> None:
        """Read the next message, then close the connection without a reply or keeping it."""
        self.fail("DATA", None, times=times)

    def clear_faults(self) -> None:
        """Behave normally again."""
        with self._lock:
            self.faults.clear()

    def take(self, stage: str, recipients: list[str] | None = None) -> Fault | None:
        """The fault that applies now, counting it as used."""
        with self._lock:
            for fault in self.faults:
                if fault.stage != stage:
                    continue
                if fault.recipient is not None and fault.recipient not in (recipients or []):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                return fault
        return None

    def message_ids(self) -> Counter[str]:
        """How many times each Message-ID arrived."""
        return Counter(str(r.message["Message-ID"]) for r in self.messages)

    def recipients(self) -> Counter[str]:
        """How many messages each address received."""
        return Counter(rcpt for r in self.messages for rcpt in r.rcpt_tos)


class _Handler:
    """aiosmtpd hooks that consult the fault plan."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_MAIL(self, smtp: SMTP, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        fault = self.server.take("MAIL")
        if fault is not None and fault.reply is not None:
            return fault.reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, smtp: SMTP, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        fault = self.server.take("RCPT", [address])
        if fault is not None and fault.reply is not None:
            return fault.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Any, envelope: Any) -> str:
        fault = self.server.take("DATA", list(envelope.rcpt_tos))
        if fault is not None and fault.reply is None:
            assert smtp.transport is not None
            smtp.transport.abort()  # hang up before replying: the message is lost
            return "250 OK (never seen by the client)"
        if fault is not None:
            return str(fault.reply)
        assert smtp.transport is not None
        tls = smtp.transport.get_extra_info("ssl_object") is not None
        login = getattr(session.auth_data, "login", None) if session.authenticated else None
        self.server.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content),
                     tls=tls, login=login.decode() if isinstance(login, bytes) else login)
        )
        return "250 OK queued"


class _FaultySMTP(SMTP):
    """aiosmtpd's SMTP, able to refuse a connection in its greeting."""

    def __init__(self, server: SmtpServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._server = server
        self._greeted = False

    def connection_made(self, transport: Any) -> None:
        if self.transport is None:
            self._server.connections += 1
        super().connection_made(transport)

    async def push(self, status: Any) -> None:
        if not self._greeted:
            self._greeted = True
            fault = self._server.take("connect")
            if fault is not None:
                await super().push(str(fault.reply))
                assert self.transport is not None
                self.transport.close()
                return
        await super().push(status)


class _FaultyController(Controller):
    def __init__(self, server: SmtpServer, **kwargs: Any) -> None:
        super().__init__(_Handler(server), **kwargs)
        self._server = server

    def factory(self) -> SMTP:
        return _FaultySMTP(self._server, self.handler, **self.SMTP_kwargs)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A running SMTP server that accepts everything until told otherwise."""
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def smtp_services(services: Services, smtp_server: SmtpServer) -> Services:
    """The test services, mailing as digest@example.org through `smtp_server`."""
    config = SmtpConfig(host=smtp_server.host, port=smtp_server.port, timeout=5)
    settings = dataclasses.replace(
        services.settings, smtp=config, mail_from="Paper Digest <digest@example.org>"
    )
    return dataclasses.replace(services, settings=settings)


class Clock:
    """A clock that stands still until a test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move forward by timedelta(**delta) and return the new time."""
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    """27 April 2026, 07:00 UTC, until advanced."""
    return Clock(datetime(2026, 4, 27, 7, 0, tzinfo=UTC))
