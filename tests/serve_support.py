"""`digest serve` as a real subprocess on a free loopback port, and a small HTTP client for it.

The client keeps cookies (the CSRF token lives in the session cookie), never raises on an error
status, and sends any extra headers (X-Forwarded-For, …) the test names.
"""

from __future__ import annotations

import html
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Answer:
    status: int
    body: str
    seconds: float


class Client:
    """One visitor: its own cookie jar, optional headers on every request."""

    def __init__(self, base: str, headers: dict[str, str] | None = None) -> None:
        self.base = base
        self.headers = headers or {}
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def request(
        self, path: str, data: dict[str, str] | bytes | None = None, timeout: float = 60
    ) -> Answer:
        """GET (no data) or POST (form fields or raw bytes); the status is returned, not raised."""
        body = urlencode(data).encode() if isinstance(data, dict) else data
        request = urllib.request.Request(self.base + path, data=body, headers=self.headers)
        if body is not None:
            request.add_header("Content-Type", "application/x-www-form-urlencoded")
        start = time.monotonic()
        try:
            with self.opener.open(request, timeout=timeout) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode(errors="replace")
        return Answer(status, text, time.monotonic() - start)

    def post_form(self, page: str, action: str, fields: dict[str, str]) -> Answer:
        """GET `page` for its CSRF token, then POST `fields` to `action`."""
        found = _CSRF.search(self.request(page).body)
        assert found, "no CSRF token on the page"
        return self.request(action, {"csrf_token": html.unescape(found[1]), **fields})


@contextmanager
def digest_serve(env: dict[str, str], *args: str, port: int | None = None) -> Iterator[str]:
    """Run `digest serve` with `env` on `port` (default: a free one); yield its base URL; stop it
    at the end."""
    with serve_process(env, *args, port=port) as (base, _process):
        yield base


@contextmanager
def serve_process(
    env: dict[str, str], *args: str, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """As `digest_serve`, yielding the process too (its pid, to signal it or find its child)."""
    port = port or free_port()
    script = Path(sys.executable).with_name("digest")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "digest.cli"]
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port), *args],
        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise AssertionError(f"digest serve exited: {process.stdout.read()}")  # type: ignore[union-attr]
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("digest serve did not start within 30 s") from None
                time.sleep(0.1)
        yield base, process
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
