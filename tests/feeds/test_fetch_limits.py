"""The fetcher's limits against real hostile servers on 127.0.0.1: one deadline per fetch."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from digest.feeds import FeedError
from digest.feeds.fetch import fetch, make_client

DEADLINE = 2.0
SLACK = 1.0  # thread wake-ups and the socket shutdown, on a busy two-core machine


class RawServer:
    """A TCP server that plays `script(connection, stop)` on every connection it accepts."""

    def __init__(self, script: Callable[[socket.socket, threading.Event], None]) -> None:
        self.script = script
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, path: str = "/feed") -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}{path}"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._play, args=(conn,), daemon=True).start()

    def _play(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)  # the request
                self.script(conn, self.stop)
            except OSError:
                pass  # the client hung up, as it should

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.listener.close()


def trickle(head: bytes, then: bytes = b"", every: float = 0.25):
    """Send `head` at once, then `then` one byte at a time, `every` seconds apart, forever."""

    def script(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(head)
        while then and not stop.is_set():
            for byte in then:
                if stop.wait(every):
                    return
                conn.sendall(bytes([byte]))

    return script


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    servers: list[RawServer] = []

    def start(script: Callable[[socket.socket, threading.Event], None]) -> RawServer:
        servers.append(RawServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def timed_fetch(url: str, **options) -> tuple[float, BaseException | None]:
    """Fetch in a thread so that a fetch that never ends fails the test instead of hanging it."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        with make_client() as client:
            try:
                fetch(url, client=client, user_agent="t", retry_delay=0, **options)
                outcome.append(None)
            except BaseException as exc:  # reported to the test below
                outcome.append(exc)

    started = time.monotonic()
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(DEADLINE * 4 + SLACK)
    assert outcome, f"the fetch was still running after {time.monotonic() - started:.1f} s"
    return time.monotonic() - started, outcome[0]


def test_a_server_trickling_its_headers_fails_within_the_deadline(raw_server) -> None:
    server = raw_server(trickle(b"HTTP/1.1 200 OK\r\nX-Pad: ", b"a" * 64))
    elapsed, error = timed_fetch(server.url(), deadline=DEADLINE)
    assert isinstance(error, FeedError), error
    assert str(error) == "the server did not send the whole feed within 2 s"
    assert elapsed < DEADLINE + SLACK
    assert server.connections == 1  # a deadline is not worth a retry


def test_a_server_trickling_its_body_fails_within_the_deadline(raw_server) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 100000\r\n\r\n<rss>"
    server = raw_server(trickle(head, b"x" * 64, every=0.05))
    elapsed, error = timed_fetch(server.url(), deadline=DEADLINE)
    assert isinstance(error, FeedError) and "within 2 s" in str(error), error
    assert elapsed < DEADLINE + SLACK


def test_a_slow_first_answer_and_its_retry_share_one_deadline(raw_server) -> None:
    def slow_then_reset(conn: socket.socket, stop: threading.Event) -> None:
        stop.wait(DEADLINE * 0.75)  # nothing at all, then hang up: worth a retry
    server = raw_server(slow_then_reset)
    elapsed, error = timed_fetch(server.url(), deadline=DEADLINE)
    assert isinstance(error, FeedError), error
    assert elapsed < DEADLINE + SLACK
    assert server.connections == 2


def test_a_prompt_server_is_read_in_full(raw_server) -> None:
    body = b"<rss><channel/></rss>"
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
    server = raw_server(trickle(head + body))
    with make_client() as client:
        assert fetch(server.url(), client=client, user_agent="t", deadline=DEADLINE).content == body
        assert fetch(server.url(), client=client, user_agent="t", deadline=DEADLINE).content == body
