"""Fetch a feed's bytes, over HTTP or from a local file.

HTTP: conditional GET, one retry, redirects checked hop by hop, a size cap and one deadline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import httpx

from digest.feeds import api_error_message
from digest.feeds.common import FeedError
from digest.feeds.deadline import Deadline
from digest.feeds.redirects import REDIRECT_STATUSES, HostCheck, host_is_public, redirect_target

MAX_BYTES = 50_000_000  # the largest arXiv listings are a few MB; anything far beyond is wrong
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# One deadline for the whole fetch (connect, headers, body, the retry): a server trickling bytes
# forever must not hold up the other sources.
TOTAL_SECONDS = 180.0
RETRY_DELAY = 2.0  # seconds before the one retry, unless the server says otherwise
RETRY_AFTER_CAP = 30.0  # a longer Retry-After is not waited for: the source fails this time
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml, application/json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


@dataclass(frozen=True)
class Fetched:
    """A feed's bytes (None when the server said 304 Not Modified) and its cache validators."""

    content: bytes | None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class _Response:
    status: int
    reason: str
    headers: httpx.Headers
    content: bytes


def make_client() -> httpx.Client:
    """An HTTP client with digest's timeouts; fetch follows (and checks) redirects itself."""
    return httpx.Client(timeout=TIMEOUT, follow_redirects=False)


def is_url(source: str) -> bool:
    """True for http(s) sources."""
    return urlsplit(source).scheme in ("http", "https")


def source_name(source: str) -> str:
    """How a source is remembered: URLs as given, files as absolute paths."""
    source = source.strip()
    if is_url(source):
        return source
    return str(_path(source).resolve())


def fetch(
    source: str,
    *,
    client: httpx.Client,
    user_agent: str,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = MAX_BYTES,
    retry_delay: float = RETRY_DELAY,
    deadline: float = TOTAL_SECONDS,
    is_public: HostCheck = host_is_public,
) -> Fetched:
    """The source's bytes within `deadline` seconds; raises FeedError with a reason to act on.

    Redirects are followed here, not by httpx, so that each is checked (redirects.py);
    `is_public` says which hosts count as public (tests stand in for the internet with it).
    """
    if not is_url(source):
        return Fetched(_read_file(_path(source), max_bytes))
    # A new connection per fetch: the deadline watches the sockets its requests open, and feeds
    # are fetched far too rarely for a kept-alive connection to matter.
    headers = {"User-Agent": user_agent, "Accept": ACCEPT, "Connection": "close"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    with Deadline(deadline) as limit:
        attempt = _Attempt(client, source, headers, max_bytes, limit, is_public)
        response = _get_with_retry(attempt, retry_delay)
    if response.status == 304:
        return Fetched(None, etag, last_modified)
    if response.status >= 400:
        raise FeedError(_http_error(response))
    if response.status != 200:
        raise FeedError(f"HTTP {response.status} {response.reason}: expected 200 with the feed")
    return Fetched(
        response.content, response.headers.get("etag"), response.headers.get("last-modified")
    )


@dataclass(frozen=True)
class _Attempt:
    """What each GET of one fetch shares."""

    client: httpx.Client
    url: str
    headers: dict[str, str]
    max_bytes: int
    limit: Deadline
    is_public: HostCheck


def _get_with_retry(attempt: _Attempt, delay: float) -> _Response:
    """GET, retried exactly once on a transient failure (network, timeout, 5xx, 429)."""
    try:
        response = _get(attempt)
    except httpx.TransportError:
        wait = delay
    else:
        if response.status not in TRANSIENT_STATUSES:
            return response
        wait = _retry_after(response.headers.get("retry-after"), delay)
        if wait > RETRY_AFTER_CAP:
            raise FeedError(
                f"{_http_error(response)}; the server asks to wait {wait:.0f} s, try again later"
            )
    if wait >= attempt.limit.remaining():
        raise FeedError(attempt.limit.message)
    time.sleep(wait)
    try:
        return _get(attempt)
    except httpx.TimeoutException:
        raise FeedError("no answer within the time limit (tried twice)") from None
    except httpx.TransportError as exc:
        raise FeedError(f"cannot reach the server (tried twice): {exc}") from None


def _get(attempt: _Attempt) -> _Response:
    """One GET and the redirects it leads to, reading at most max_bytes, before the deadline."""
    limit = attempt.limit
    url = httpx.URL(attempt.url)
    redirects = 0
    try:
        while True:
            if limit.expired:
                raise FeedError(limit.message)
            with attempt.client.stream(
                "GET", url, headers=attempt.headers, follow_redirects=False,
                timeout=limit.timeout(attempt.client.timeout), extensions={"trace": limit.trace},
            ) as response:
                if response.status_code not in REDIRECT_STATUSES:
                    return _read_body(response, attempt.max_bytes, limit)
                location = response.headers.get("location")
            url = redirect_target(url, location, redirects, attempt.is_public)
            redirects += 1
    except httpx.TransportError:
        if limit.expired:  # the watchdog shut the connection: not worth a retry
            raise FeedError(limit.message) from None
        raise  # worth one retry
    except (httpx.RequestError, httpx.InvalidURL) as exc:
        raise FeedError(f"cannot fetch this URL: {exc}") from None


def _read_body(response: httpx.Response, max_bytes: int, limit: Deadline) -> _Response:
    """The response's body, refused past max_bytes or the deadline."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FeedError(_too_large(max_bytes))
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FeedError(_too_large(max_bytes))
        if limit.expired:
            raise FeedError(limit.message)
        chunks.append(chunk)
    return _Response(
        response.status_code, response.reason_phrase, response.headers, b"".join(chunks)
    )


def _http_error(response: _Response) -> str:
    """HTTP status and reason, quoting the arXiv API's own message when it sent one."""
    message = f"HTTP {response.status} {response.reason}".rstrip()
    api_error = api_error_message(response.content) if response.content else None
    if api_error:
        return f'{message}: the arXiv API says "{api_error}"'
    return message


def _retry_after(value: str | None, default: float) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return default
    return max(0.0, moment.timestamp() - time.time())


def _too_large(max_bytes: int) -> str:
    return f"the response is larger than {max_bytes:,} bytes, too big to be a feed"


def _path(source: str) -> Path:
    parts = urlsplit(source)
    if parts.scheme == "file":
        return Path(url2pathname(parts.path))
    if parts.scheme and len(parts.scheme) > 1:  # one letter is a Windows drive
        raise FeedError(
            f"unsupported source {source!r}: use an http(s) URL, a file:// URL or a file path"
        )
    return Path(source).expanduser()


def _read_file(path: Path, max_bytes: int) -> bytes:
    try:
        if path.stat().st_size > max_bytes:
            raise FeedError(_too_large(max_bytes))
        return path.read_bytes()
    except OSError as exc:
        raise FeedError(f"cannot read {path}: {exc.strerror or exc}") from None
