"""Benchmark: `digest serve` under sign-up load — concurrent clients each GET the form and POST it.

A real `digest serve` subprocess (waitress and its scheduler, the embedded defaults) on a free
port and a fresh SQLite database, its mail going to a local aiosmtpd process, its one feed a
local file (nothing touches the network). Each client keeps its own cookies, reads the CSRF
token from the form it fetched and subscribes a distinct address; the per-client rate limit is
raised for the run (DIGEST_SUBSCRIBE_RATE_LIMIT), since every client comes from 127.0.0.1.

    .venv/bin/python -m benchmarks.bench_web --subscriptions 500 --clients 50
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from benchmarks import datagen
from benchmarks.bench_smtp import SmtpSink
from benchmarks.datagen import Row

TARGET_P99 = 1.0
TARGET_RATE = 150
TARGET_PAGE_BYTES = 15_000
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x</link>
<description>d</description></channel></rss>"""


def _server(tmp: str, smtp_port: int, threads: int | None) -> tuple[subprocess.Popen[str], str]:
    """Start `digest serve`; its process and base URL once it answers."""
    feed = Path(tmp) / "feed.xml"
    feed.write_text(FEED)
    port = datagen.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(
        DIGEST_DATABASE_URL=f"sqlite:///{tmp}/digest.db",
        DIGEST_SECRET_KEY="benchmark-secret-key-0123456789",
        DIGEST_BASE_URL=f"http://127.0.0.1:{port}",
        DIGEST_MAIL_FROM="Paper Digest <digest@example.org>",
        DIGEST_SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        DIGEST_SUBSCRIBE_RATE_LIMIT="1000000 per hour",
        DIGEST_FEEDS=str(feed),
        DIGEST_INSTANCE_PATH=tmp,
    )
    command = [str(Path(sys.executable).with_name("digest")), "serve", "--port", str(port)]
    if threads:
        command += ["--threads", str(threads)]
    process = subprocess.Popen(command, env=env, text=True, stdout=subprocess.PIPE)
    assert process.stdout is not None
    line = process.stdout.readline()  # "serving on http://…" once it listens
    if "serving on" not in line:
        process.kill()
        raise RuntimeError(f"digest serve did not start: {line!r}")
    return process, f"http://127.0.0.1:{port}"


def _subscribe(base: str, n: int) -> tuple[float, float, int]:
    """One visitor's sign-up over one keep-alive connection, as a browser makes it: GET the form
    (gzip accepted), POST it with the session cookie; (GET seconds, POST seconds, status).

    The standard library's http.client, not httpx: creating an httpx client costs ~18 ms of CPU
    (its TLS context), more than the server spends on a whole sign-up, and the load generator
    shares the machine's 2 cores with the server it measures.
    """
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        started = time.perf_counter()
        connection.request("GET", "/", headers={"Accept-Encoding": "gzip"})
        form = connection.getresponse()
        body = form.read()
        if form.getheader("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        got = time.perf_counter() - started
        match = _CSRF.search(body.decode())
        assert match is not None, "no CSRF token in the form"
        cookie = "; ".join(
            value.split(";", 1)[0] for name, value in form.getheaders() if name == "Set-Cookie"
        )
        data = urlencode({
            "csrf_token": match.group(1), "email": f"reader{n}@example.org",
            "keywords": "reinforcement learning\nrobot*", "frequency": "daily",
            "weekday": "monday", "send_time": "07:30", "timezone": "Europe/Berlin",
            "website": "",
        })  # fmt: skip
        started = time.perf_counter()
        connection.request("POST", "/subscribe", body=data, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
            "Accept-Encoding": "gzip",
        })  # fmt: skip
        answer = connection.getresponse()
        answer.read()
        return got, time.perf_counter() - started, answer.status
    finally:
        connection.close()


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(subscriptions: int, clients: int, threads: int | None = None) -> dict[str, Any]:
    """Run the load; latencies, rate, statuses and the page's sizes."""
    import httpx

    with tempfile.TemporaryDirectory() as tmp, SmtpSink() as sink:
        process, base = _server(tmp, sink.port, threads)
        try:
            page = httpx.get(base + "/")
            packed = httpx.get(base + "/", headers={"Accept-Encoding": "gzip"})
            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                results = list(pool.map(lambda n: _subscribe(base, n), range(subscriptions)))
            seconds = time.perf_counter() - started
            deadline = time.monotonic() + 60  # the confirmations, delivered by the scheduler
            while sink.count < subscriptions and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            process.terminate()
            process.wait(30)
        pairs = [get + post for get, post, _ in results]
        return {
            "seconds": seconds,
            "rate": subscriptions / seconds,
            "p50": _quantile(pairs, 0.5),
            "p99": _quantile(pairs, 0.99),
            "post_p99": _quantile([post for _, post, _ in results], 0.99),
            "ok": sum(status == 200 for _, _, status in results),
            "page_bytes": len(page.content),
            "gzip_bytes": int(packed.headers.get("Content-Length", len(packed.content))),
            "gzipped": packed.headers.get("Content-Encoding") == "gzip",
            "mailed": sink.count,
        }


def run(subscriptions: int = 500, clients: int = 50, threads: int | None = None) -> list[Row]:
    """The table rows."""
    print(f"web: {subscriptions} subscriptions from {clients} clients", flush=True)
    m = measure(subscriptions, clients, threads)
    print(f"  {m}", flush=True)
    met = m["p99"] < TARGET_P99 and m["rate"] >= TARGET_RATE and m["ok"] == subscriptions
    return [
        Row(
            "web",
            f"`digest serve` (SQLite, defaults): {subscriptions} subscriptions from {clients} "
            "concurrent clients, GET the form + POST it",
            f"p50 {m['p50']:.2f} s, p99 {m['p99']:.2f} s (POST p99 {m['post_p99']:.2f} s); "
            f"{m['rate']:,.0f} subscriptions/s; {m['ok']} answered 200, "
            f"{m['mailed']} confirmations delivered",
            f"p99 < {TARGET_P99:.0f} s, ≥ {TARGET_RATE}/s",
            datagen.verdict(met),
        ),
        Row(
            "web",
            "the subscribe page: HTML before compression / gzipped",
            f"{m['page_bytes'] / 1000:.1f} KB / {m['gzip_bytes'] / 1000:.1f} KB"
            + ("" if m["gzipped"] else " (not gzipped!)"),
            f"< {TARGET_PAGE_BYTES // 1000} KB, gzip",
            datagen.verdict(m["page_bytes"] < TARGET_PAGE_BYTES and m["gzipped"]),
        ),
    ]


def main() -> None:
    """Command line: print the rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscriptions", type=int, default=500)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--threads", type=int, help="waitress threads (default: serve's own)")
    args = parser.parse_args()
    print(datagen.table(run(args.subscriptions, args.clients, args.threads)))


if __name__ == "__main__":
    main()
