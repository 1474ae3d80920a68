"""`digest serve` runs its scheduler as a child process, woken through a pipe (issue 10).

The child delivers a page's mail within a second or so (its own tick is 30 s), is started again
when it dies, and stops by itself when `digest serve` is killed outright: its pipe closes."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest
from serve_support import Client, serve_process
from web_support import FORM

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads a process's children from /proc (Linux)"
)


def children(pid: int) -> list[int]:
    """The live child processes of `pid` (each thread lists those it started)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += (task / "children").read_text().split()
    return [int(child) for child in found if alive(int(child))]


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def scheduler_child(pid: int) -> int:
    assert wait_for(lambda: len(children(pid)) == 1, 10), "no scheduler child process"
    return children(pid)[0]


@pytest.fixture
def env(cli_env, sessions, smtp_server) -> dict[str, str]:
    return {**cli_env, "DIGEST_SMTP_URL": smtp_server.url,
            "DIGEST_MAIL_FROM": "Paper Digest <digest@example.org>"}  # fmt: skip


def sign_up(base: str, email: str) -> None:
    answer = Client(base).post_form("/", "/subscribe", {**FORM, "email": email})
    assert answer.status == 200


def test_a_sign_up_is_mailed_by_the_child_within_seconds(env, smtp_server) -> None:
    with serve_process(env) as (base, process):
        child = scheduler_child(process.pid)
        assert child != process.pid
        time.sleep(1)  # past the delivery run at start-up: what follows is the wake's doing
        sign_up(base, "ada@example.org")
        assert wait_for(lambda: smtp_server.recipients()["ada@example.org"] == 1, 5)


def test_a_dead_scheduler_is_started_again(env, smtp_server) -> None:
    with serve_process(env) as (base, process):
        first = scheduler_child(process.pid)
        os.kill(first, signal.SIGKILL)
        assert wait_for(lambda: children(process.pid) not in ([], [first]), 15)
        sign_up(base, "grace@example.org")
        assert wait_for(lambda: smtp_server.recipients()["grace@example.org"] == 1, 10)


def test_the_scheduler_stops_when_serve_is_killed(env) -> None:
    with serve_process(env) as (_base, process):
        child = scheduler_child(process.pid)
        process.kill()  # SIGKILL: no handler runs in digest serve
        process.wait(5)
        assert wait_for(lambda: not alive(child), 15), "the scheduler outlived digest serve"


def test_serve_stops_its_scheduler_on_sigterm(env) -> None:
    with serve_process(env) as (_base, process):
        child = scheduler_child(process.pid)
        process.terminate()
        assert process.wait(30) == 0
        assert not alive(child)
