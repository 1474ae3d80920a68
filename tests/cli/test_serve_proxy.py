"""`digest serve` behind a reverse proxy, through a real waitress on a free port (issue 8, 3, 11a).

With DIGEST_PROXY_HOPS=1 waitress itself trusts X-Forwarded-For from the local proxy, so two
visitors get two rate-limit buckets; with 0 the header is ignored and they share one. Request
bodies past 1 MB are refused by waitress before they are read, not buffered to disk."""

from __future__ import annotations

import socket

import pytest
from serve_support import Client, digest_serve
from web_support import FORM

A, B = "203.0.113.1", "203.0.113.2"


def _subscribe(base: str, forwarded_for: str, email: str) -> int:
    client = Client(base, {"X-Forwarded-For": forwarded_for})
    return client.post_form("/", "/subscribe", {**FORM, "email": email}).status


@pytest.fixture
def env(cli_env, sessions) -> dict[str, str]:
    return {**cli_env, "DIGEST_SUBSCRIBE_RATE_LIMIT": "1 per hour"}


def test_with_one_hop_each_forwarded_client_gets_its_own_bucket(env) -> None:
    with digest_serve({**env, "DIGEST_PROXY_HOPS": "1"}) as base:
        first = _subscribe(base, A, "a1@example.org")
        again = _subscribe(base, A, "a2@example.org")
        other = _subscribe(base, B, "b1@example.org")
        # The proxy appends the peer it saw: only the last hop counts, the rest is the client's.
        spoofed = _subscribe(base, f"198.51.100.7, {A}", "a3@example.org")
    assert (first, again, other, spoofed) == (200, 429, 200, 429)


def test_without_hops_the_header_is_ignored(env) -> None:
    with digest_serve({**env, "DIGEST_PROXY_HOPS": "0"}) as base:
        first = _subscribe(base, A, "a1@example.org")
        other = _subscribe(base, B, "b1@example.org")
    assert (first, other) == (200, 429)


def test_a_body_over_the_limit_is_refused_before_it_is_read(env) -> None:
    with digest_serve(env) as base:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                b"POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 50000000\r\n\r\n" + b"x" * 1024
            )
            status = sock.recv(4096).split(b"\r\n", 1)[0]
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
