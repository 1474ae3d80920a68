"""The model loads from its wheel with no network and no home; liked papers are looked up
through a real local HTTP server serving the arXiv API fixtures."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import select

from digest.models import LikedPaper, Subscriber
from digest.relevance import feedback
from digest.relevance.lookup import lookup_pending
from digest.subscribers.validation import clean_paper_ids

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)
OFFLINE = """
import socket
real = socket.socket.connect
def refuse(self, address):
    if isinstance(address, tuple) and address[0] not in ("127.0.0.1", "::1", "localhost"):
        raise OSError("network blocked by the test")
    return real(self, address)
socket.socket.connect = refuse
from digest.relevance.model import embedder
vectors = embedder().embed(["reinforcement learning for language models", "robot grasping"])
print(vectors.shape, round(float((vectors ** 2).sum()), 3))
"""


def test_model_loads_offline_from_the_wheel(tmp_path: Path) -> None:
    env = {
        "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9", "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PATH": "/usr/bin:/bin",
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "(2, 256) 2.0" in done.stdout
    assert not (tmp_path / "cache" / "huggingface").exists()


def serve(feeds_dir: Path, answers: dict[str, tuple[int, str]]) -> ThreadingHTTPServer:
    """A local arXiv API: the `id_list` query names the fixture to answer with."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            for needle, (status, name) in answers.items():
                if needle in self.path:
                    body = (feeds_dir / name).read_bytes()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/atom+xml")
                    self.end_headers()
                    self.wfile.write(body)
                    return
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_liked_papers_are_looked_up(services, feeds_dir: Path) -> None:
    server = serve(feeds_dir, {
        "astro-ph": (200, "arxiv-api-atom-2026-05-11-id_list-astro-ph-0601001.xml"),
        "2401.99999": (200, "arxiv-api-atom-2026-04-12-id_list-no-results.xml"),
    })  # fmt: skip
    import dataclasses

    url = f"http://127.0.0.1:{server.server_port}/api/query"
    local = dataclasses.replace(
        services, settings=dataclasses.replace(services.settings, arxiv_api_url=url)
    )
    try:
        with local.sessions.begin() as session:
            subscriber = Subscriber(email="a@example.org", token_nonce="n", created_at=NOW)
            session.add(subscriber)
            session.flush()
            sid = subscriber.id
            feedback.set_liked(session, sid, clean_paper_ids("astro-ph/0601001v1"), now=NOW)
        assert lookup_pending(local, now=NOW) == (1, 0)
        with local.sessions.begin() as session:
            feedback.set_liked(session, sid, ["astro-ph/0601001", "2401.99999"], now=NOW)
        assert lookup_pending(local, now=NOW) == (0, 1)
        with local.sessions() as session:
            rows = {r.arxiv_id: r for r in session.scalars(select(LikedPaper))}
        assert rows["astro-ph/0601001"].status == "found" and rows["astro-ph/0601001"].title
        assert rows["2401.99999"].status == "not_found"
    finally:
        server.shutdown()
