"""Ingesting sources over real HTTP (a local server) and from files: counts, caching, failures."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import func, select

from digest.feeds import FeedError
from digest.feeds.fetch import fetch
from digest.models import Paper, Source
from digest.papers.ingest import fetch_sources
from digest.papers.store import StoreCounts

NOW = datetime(2026, 8, 2, 6, 0, tzinfo=UTC)
RSS = "arxiv-rss-cs.CL-2026-04-27-excerpt.xml"
API_ERROR = "arxiv-api-atom-2026-04-12-id_list-abc-http400-error.xml"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Route = Callable[[BaseHTTPRequestHandler], Reply]


class FeedServer(ThreadingHTTPServer):
    """A real HTTP server on 127.0.0.1 that plays scripted replies, one per request."""

    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, list[Reply | Route]] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def serve(self, path: str, *replies: Reply | Route) -> str:
        """Answer `path` with these replies in turn, the last one repeated."""
        self.routes[path] = list(replies)
        return self.url(path)

    def hits(self, path: str) -> list[dict[str, str]]:
        return [headers for p, headers in self.requests if p == path]


class _Handler(BaseHTTPRequestHandler):
    server: FeedServer

    def do_GET(self) -> None:
        self.server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        replies = self.server.routes.get(self.path)
        if not replies:
            reply: Reply | Route = Reply(404, b"<h1>Not Found</h1>", {"Content-Type": "text/html"})
        else:
            reply = replies.pop(0) if len(replies) > 1 else replies[0]
        if callable(reply):
            reply = reply(self)
        time.sleep(reply.delay)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[FeedServer]:
    feed_server = FeedServer()
    thread = threading.Thread(target=feed_server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield feed_server
    feed_server.shutdown()
    feed_server.server_close()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(2.0, read=0.3)) as http:
        yield http


def etagged(body: bytes, etag: str) -> Route:
    """200 with an ETag, or 304 when the request already has it."""

    def reply(request: BaseHTTPRequestHandler) -> Reply:
        if request.headers.get("If-None-Match") == etag:
            return Reply(304, headers={"ETag": etag})
        return Reply(200, body, {"ETag": etag, "Content-Type": "application/rss+xml"})

    return reply


def ingest(services, sources, client, now=NOW):
    return fetch_sources(services, sources, now=now, client=client, retry_delay=0)


def paper_count(services) -> int:
    with services.sessions() as session:
        return session.scalar(select(func.count()).select_from(Paper))


def source_row(services, url: str) -> Source:
    with services.sessions() as session:
        return session.scalars(select(Source).where(Source.url == url)).one()


def test_http_feed_is_stored_and_the_request_names_digest(services, server, client, feeds_dir):
    url = server.serve("/rss/cs.CL", Reply(200, (feeds_dir / RSS).read_bytes()))
    [result] = ingest(services, [url], client)
    assert (result.source, result.counts, result.error) == (url, StoreCounts(3, 0, 0), None)
    assert result.line() == f"{url}: 3 new, 0 updated, 0 unchanged"
    [headers] = server.hits("/rss/cs.CL")
    assert headers["user-agent"].startswith("digest/")
    assert headers["user-agent"].endswith("(+http://127.0.0.1:8000)")
    row = source_row(services, url)
    assert (row.kind, row.last_success_at, row.last_error) == ("arxiv-rss", NOW, None)
    with services.sessions() as session:
        assert session.scalars(select(Paper.sources)).first() == [url]


def test_conditional_get_with_etag_turns_a_304_into_nothing_new(
    services, server, client, feeds_dir
):
    url = server.serve("/feed", etagged((feeds_dir / RSS).read_bytes(), '"v1"'))
    ingest(services, [url], client)
    [result] = ingest(services, [url], client, now=NOW + timedelta(hours=1))
    assert result.counts == StoreCounts(0, 0, 0) and result.error is None
    assert server.hits("/feed")[1]["if-none-match"] == '"v1"'
    row = source_row(services, url)
    assert (row.etag, row.last_success_at) == ('"v1"', NOW + timedelta(hours=1))


def test_last_modified_is_sent_back_as_if_modified_since(services, server, client, feeds_dir):
    stamp = "Mon, 27 Apr 2026 04:00:02 GMT"
    body = (feeds_dir / RSS).read_bytes()
    url = server.serve("/lm", Reply(200, body, {"Last-Modified": stamp}), Reply(304))
    ingest(services, [url], client)
    [result] = ingest(services, [url], client)
    assert result.counts == StoreCounts(0, 0, 0)
    assert server.hits("/lm")[1]["if-modified-since"] == stamp


def test_a_server_error_is_retried_once(services, server, client, feeds_dir):
    body = (feeds_dir / RSS).read_bytes()
    url = server.serve("/flaky", Reply(500, b"oops"), Reply(200, body))
    [result] = ingest(services, [url], client)
    assert result.counts == StoreCounts(3, 0, 0)
    assert len(server.hits("/flaky")) == 2


def test_a_second_server_error_fails_the_source(services, server, client):
    url = server.serve("/down", Reply(503, b"busy"))
    [result] = ingest(services, [url], client)
    assert result.error == "HTTP 503 Service Unavailable"
    assert len(server.hits("/down")) == 2


def test_429_is_retried_after_a_short_retry_after(services, server, client, feeds_dir):
    body = (feeds_dir / RSS).read_bytes()
    url = server.serve("/limited", Reply(429, headers={"Retry-After": "0"}), Reply(200, body))
    [result] = ingest(services, [url], client)
    assert result.counts == StoreCounts(3, 0, 0)


def test_429_with_a_long_retry_after_fails_without_waiting(services, server, client):
    url = server.serve("/limited", Reply(429, headers={"Retry-After": "3600"}))
    started = time.monotonic()
    [result] = ingest(services, [url], client)
    assert time.monotonic() - started < 2
    assert result.error is not None and result.error.startswith("HTTP 429 Too Many Requests")
    assert "3600 s" in result.error and len(server.hits("/limited")) == 1


def test_redirects_are_followed(services, server, client, feeds_dir):
    server.serve("/new", Reply(200, (feeds_dir / RSS).read_bytes()))
    url = server.serve("/old", Reply(301, headers={"Location": server.url("/new")}))
    [result] = ingest(services, [url], client)
    assert result.counts == StoreCounts(3, 0, 0)


def test_failures_store_nothing_record_the_reason_and_do_not_stop_the_others(
    services, server, client, feeds_dir
):
    good = server.serve("/good", Reply(200, (feeds_dir / RSS).read_bytes()))
    html = server.serve("/html", Reply(200, b"<!DOCTYPE html><html><body>Sorry</body></html>"))
    cut = (feeds_dir / "hf-papers-rss-takara-tldr-2026-04-30.xml").read_bytes()[:20000]
    truncated = server.serve("/truncated", Reply(200, cut))
    missing = server.url("/missing")
    results = ingest(services, [html, missing, truncated, good], client)
    assert [r.error for r in results[:3]] == [
        "not a feed: the response is an HTML page",
        "HTTP 404 Not Found",
        results[2].error,
    ]
    assert results[2].error is not None and results[2].error.startswith("malformed XML at line ")
    assert results[3].counts == StoreCounts(3, 0, 0)
    assert paper_count(services) == 3
    assert source_row(services, missing).last_error == "HTTP 404 Not Found"
    assert source_row(services, html).last_success_at is None


def test_a_failing_refetch_leaves_stored_papers_untouched(services, server, client, feeds_dir):
    body = (feeds_dir / RSS).read_bytes()
    url = server.serve("/feed", Reply(200, body, {"ETag": '"a"'}), Reply(200, body[:-200]))
    ingest(services, [url], client)
    with services.sessions() as session:
        before = [(p.key, p.title, p.last_seen_at) for p in session.scalars(select(Paper))]
    [result] = ingest(services, [url], client, now=NOW + timedelta(days=1))
    assert result.error is not None and result.error.startswith("malformed XML")
    with services.sessions() as session:
        after = [(p.key, p.title, p.last_seen_at) for p in session.scalars(select(Paper))]
    assert after == before
    row = source_row(services, url)
    assert (row.etag, row.last_success_at, row.last_fetched_at) == (
        '"a"',
        NOW,
        NOW + timedelta(days=1),
    )


def test_arxiv_api_http_400_quotes_arxivs_message(services, server, client, feeds_dir):
    body = (feeds_dir / API_ERROR).read_bytes()
    url = server.serve("/api/query?id_list=abc", Reply(400, body))
    [result] = ingest(services, [url], client)
    assert result.error == (
        'HTTP 400 Bad Request: the arXiv API says "incorrect id format for abc"'
    )
    assert paper_count(services) == 0


def test_a_slow_server_times_out_after_one_retry(services, server, client, feeds_dir):
    url = server.serve("/slow", Reply(200, b"<rss/>", delay=1.0))
    [result] = ingest(services, [url], client)
    assert result.error == "no answer within the time limit (tried twice)"
    assert len(server.hits("/slow")) == 2


def test_an_unreachable_server_fails_after_one_retry(services, client):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        [result] = ingest(services, [f"http://127.0.0.1:{port}/feed"], client)
    assert result.error is not None and result.error.startswith("cannot reach the server")


def test_a_response_over_the_size_cap_is_refused(server, client, feeds_dir):
    url = server.serve("/big", Reply(200, (feeds_dir / RSS).read_bytes()))
    with pytest.raises(FeedError, match="larger than 1,000 bytes"):
        fetch(url, client=client, user_agent="t", max_bytes=1000)


def test_files_are_sources_by_path_or_file_url(services, feeds_dir, client):
    path = feeds_dir / RSS
    [by_path] = ingest(services, [str(path)], client)
    [by_url] = ingest(services, [path.as_uri()], client)
    assert by_path.counts == StoreCounts(3, 0, 0)
    assert by_url.counts == StoreCounts(0, 0, 3)
    with services.sessions() as session:
        assert session.scalars(select(Source.url)).all() == [str(path.resolve())]


def test_a_missing_file_fails_with_its_name(services, tmp_path, client):
    [result] = ingest(services, [str(tmp_path / "nope.xml")], client)
    assert result.error == f"cannot read {tmp_path / 'nope.xml'}: No such file or directory"


def test_weekend_feed_is_success_with_nothing(services, feeds_dir, client):
    [result] = ingest(
        services, [str(feeds_dir / "arxiv-rss-cs.CL-2026-08-01-saturday-empty.xml")], client
    )
    assert (result.counts, result.error) == (StoreCounts(0, 0, 0), None)
