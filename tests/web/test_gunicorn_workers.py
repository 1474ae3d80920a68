"""Under gunicorn with several workers: /metrics answers the same whichever worker serves it, and
the login limit is one limit for all of them when they share Redis (SPEC §12)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from conftest import ROOT
from prometheus_client.parser import text_string_to_metric_families
from smtp_fixture import free_port

from digest.db import utcnow
from digest.models import Subscriber
from digest.operate.password import set_password

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery staple"
WORKERS = 2


def _started(url: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            time.sleep(0.2)
    return False


@pytest.fixture
def gunicorn(cli_env, sessions, redis_url) -> Iterator[str]:
    """`gunicorn -w 2 wsgi:app` on the test database, rate limits in Redis."""
    with sessions.begin() as session:
        set_password(session, PASSWORD, now=utcnow())
        for i in range(7):
            session.add(Subscriber(email=f"g{i}@example.org", status="confirmed",
                                   token_nonce="n", created_at=utcnow()))
    port = free_port()
    env = {**os.environ, **cli_env, "DIGEST_RATELIMIT_STORAGE_URL": redis_url,
           "DIGEST_BASE_URL": f"http://127.0.0.1:{port}", "DIGEST_PROXY_HOPS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(WORKERS), "-b", f"127.0.0.1:{port}",
         "wsgi:app"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        assert _started(f"{base}/healthz"), "gunicorn did not start"
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def test_every_worker_scrapes_the_same_figures(gunicorn):
    seen = set()
    with httpx.Client() as client:
        for _ in range(4 * WORKERS):  # new connections: gunicorn hands them to any worker
            text = client.get(f"{gunicorn}/metrics", headers={"Connection": "close"}).text
            assert "digest_database_up 1.0" in text
            families = {f.name: f for f in text_string_to_metric_families(text)}
            confirmed = [s.value for s in families["digest_subscribers"].samples
                         if s.labels["state"] == "confirmed"]
            seen.add((confirmed[0], families["digest_outbox_depth"].samples[0].value))
    assert seen == {(7.0, 0.0)}


def test_the_login_limit_is_shared_by_every_worker(gunicorn):
    # A client address of its own for each run (the limit's counts outlive the test in Redis),
    # forwarded as a reverse proxy would (DIGEST_PROXY_HOPS=1).
    address = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"
    headers = {"Connection": "close", "X-Forwarded-For": address}
    statuses = []
    with httpx.Client(base_url=gunicorn, headers=headers) as client:
        for _ in range(6):
            page = client.get("/admin").text
            token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)[1]
            answer = client.post("/admin/login", data={"csrf_token": token, "password": "no!"})
            statuses.append(answer.status_code)
    assert statuses == [400] * 5 + [429]
