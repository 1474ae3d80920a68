"""One wall-clock deadline per fetch: connecting, headers, body, the retry and redirects included.

httpx's timeouts are per operation: a server that sends one header byte every few seconds never
trips the read timeout and holds a fetch for as long as it likes. A Deadline therefore watches
the sockets of its requests (httpcore's public `trace` extension names each new connection) and
shuts them down when the time is up, which wakes a read blocked anywhere in httpx; the fetcher
then reports the deadline rather than the broken connection. Each operation's own timeout is
also capped at the time left, so nothing waits past the deadline before the watchdog fires.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType
from typing import Any

import httpx


class Deadline:
    """A deadline `seconds` from now; use as a context manager around every request it covers."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._ends = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._timer.cancel()
        with self._lock:
            self._sockets.clear()

    @property
    def expired(self) -> bool:
        """True once the time is up (the watchdog fired, or the clock says so)."""
        return self._expired or self.remaining() <= 0

    @property
    def message(self) -> str:
        """The one sentence a fetch that ran out of time fails with."""
        return f"the server did not send the whole feed within {self.seconds:.0f} s"

    def remaining(self) -> float:
        """Seconds left, never below zero."""
        return max(0.0, self._ends - time.monotonic())

    def timeout(self, base: httpx.Timeout) -> httpx.Timeout:
        """The client's per-operation timeouts, each capped at the time left."""
        left = self.remaining()

        def cap(value: float | None) -> float:
            return left if value is None else min(value, left)

        return httpx.Timeout(
            connect=cap(base.connect), read=cap(base.read), write=cap(base.write),
            pool=cap(base.pool),
        )

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace hook: remember the socket of every connection a request opens."""
        if not event.endswith(("connect_tcp.complete", "start_tls.complete")):
            return
        stream = info.get("return_value")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if not isinstance(sock, socket.socket):
            return
        with self._lock:
            self._sockets.append(sock)
            late = self._expired
        if late:  # connected just as the time ran out
            _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    """Shut a socket down both ways: unlike close(), this wakes a thread blocked reading it."""
    with contextlib.suppress(OSError):  # already closed: that request is over
        sock.shutdown(socket.SHUT_RDWR)
