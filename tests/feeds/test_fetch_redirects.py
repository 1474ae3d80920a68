"""Redirects: http(s) only, at most 5, never from a public address to a private one."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from digest.feeds import FeedError
from digest.feeds.fetch import fetch, make_client
from digest.feeds.redirects import address_is_public, host_is_public, redirect_target

FEED = b'<rss version="2.0"><channel><title>t</title></channel></rss>'


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("169.254.169.254", False), ("::ffff:169.254.169.254", False), ("127.0.0.1", False),
        ("10.1.2.3", False), ("192.168.0.1", False), ("172.16.5.4", False), ("::1", False),
        ("fe80::1", False), ("fd00::1", False), ("0.0.0.0", False), ("224.0.0.1", False),
        ("240.0.0.1", False), ("100.64.0.1", False),
    ],
)
def test_addresses_are_classified(address, public) -> None:
    assert address_is_public(address) is public


def test_host_names_are_resolved_to_classify_them() -> None:
    assert host_is_public("localhost") is False  # resolves to loopback, no network needed
    assert host_is_public("169.254.169.254") is False


def public_except_metadata(host: str) -> bool:
    return host != "169.254.169.254" and not host.startswith("10.")


@pytest.mark.parametrize(
    "location",
    ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/",
     "http://127.0.0.1:8080/admin", "http://localhost/", "http://10.0.0.7/feed"],
)
def test_a_redirect_from_a_public_address_to_a_private_one_is_refused(location) -> None:
    with pytest.raises(FeedError, match=r"from a public address to .*private, loopback"):
        redirect_target(httpx.URL("http://93.184.216.34/rss"), location, 0)


def test_the_classification_is_injectable() -> None:
    with pytest.raises(FeedError, match=r"169\.254\.169\.254"):
        redirect_target(httpx.URL("http://feeds.example.org/rss"),
                        "http://169.254.169.254/", 0, public_except_metadata)
    assert redirect_target(httpx.URL("http://feeds.example.org/rss"), "/new", 0,
                           public_except_metadata) == httpx.URL("http://feeds.example.org/new")


def test_redirects_within_private_space_and_from_private_to_public_are_followed() -> None:
    origin = httpx.URL("http://10.0.0.5/rss")
    assert redirect_target(origin, "http://10.0.0.6/rss", 0).host == "10.0.0.6"
    assert redirect_target(origin, "http://169.254.169.254/", 0).host == "169.254.169.254"
    assert redirect_target(origin, "https://93.184.216.34/rss", 0).host == "93.184.216.34"


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://93.184.216.34/feed.xml", "gopher://x/", "data:,x"]
)
def test_a_redirect_to_anything_but_http_is_refused(location) -> None:
    with pytest.raises(FeedError, match="not an http"):
        redirect_target(httpx.URL("http://10.0.0.5/rss"), location, 0)


def test_a_sixth_redirect_is_refused() -> None:
    assert redirect_target(httpx.URL("http://10.0.0.5/a"), "/b", 4).path == "/b"
    with pytest.raises(FeedError, match="too many redirects"):
        redirect_target(httpx.URL("http://10.0.0.5/a"), "/b", 5)


# --- a real chain of redirects on 127.0.0.1 ----------------------------------------------------


class _Redirector(BaseHTTPRequestHandler):
    """/hops/N redirects to /hops/N-1, /hops/0 is the feed; /to?URL redirects to URL."""

    def do_GET(self) -> None:
        self.server.paths.append(self.path)  # type: ignore[attr-defined]
        if self.path.startswith("/to?"):
            self._redirect(self.path.removeprefix("/to?"))
        elif self.path.startswith("/hops/") and self.path != "/hops/0":
            self._redirect(f"/hops/{int(self.path.rsplit('/', 1)[1]) - 1}")
        else:
            self.send_response(200)
            self.send_header("Content-Length", str(len(FEED)))
            self.end_headers()
            self.wfile.write(FEED)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirector() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    server.daemon_threads = True
    server.paths = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def get(server: ThreadingHTTPServer, path: str, **options) -> bytes | None:
    url = f"http://127.0.0.1:{server.server_address[1]}{path}"
    with make_client() as client:
        return fetch(url, client=client, user_agent="t", retry_delay=0, **options).content


def test_five_redirects_are_followed_and_a_sixth_is_not(redirector) -> None:
    assert get(redirector, "/hops/5") == FEED
    redirector.paths.clear()
    with pytest.raises(FeedError, match=r"too many redirects \(more than 5\)"):
        get(redirector, "/hops/6")
    assert redirector.paths == [f"/hops/{n}" for n in range(6, 0, -1)]  # never reached /hops/0


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/feed.xml"])
def test_a_real_redirect_to_another_scheme_is_refused(redirector, target) -> None:
    with pytest.raises(FeedError, match="not an http"):
        get(redirector, f"/to?{target}")


def test_a_public_feed_redirecting_to_the_metadata_address_is_refused_before_connecting(
    redirector,
) -> None:
    # 127.0.0.1 plays a public feed server; the redirect target is never requested at all.
    with pytest.raises(FeedError, match=r"169\.254\.169\.254"):
        get(redirector, "/to?http://169.254.169.254/latest/meta-data/",
            is_public=lambda host: host == "127.0.0.1")
    assert redirector.paths == ["/to?http://169.254.169.254/latest/meta-data/"]


def test_a_feed_configured_on_loopback_may_redirect_within_it(redirector) -> None:
    port = redirector.server_address[1]
    assert get(redirector, f"/to?http://localhost:{port}/hops/1") == FEED
