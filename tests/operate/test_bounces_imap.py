"""`digest bounces --imap`: a real IMAP server (pymap, in-memory) on loopback."""

from __future__ import annotations

import imaplib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bounce_support import BOUNCE, fixture, sent, state, subscriber
from click.testing import CliRunner

from digest.cli import main


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def imap_port() -> Iterator[int]:
    pymap = shutil.which("pymap") or str(Path(sys.executable).with_name("pymap"))
    if not Path(pymap).exists():
        pytest.skip("pymap is not installed (pip install '.[test]')")
    port = free_port()
    proc = subprocess.Popen([pymap, "--host", "127.0.0.1", "--port", str(port), "--no-tls",
                             "dict", "--demo-data"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("pymap did not start")
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def connect(port: int) -> imaplib.IMAP4:
    conn = imaplib.IMAP4("127.0.0.1", port)
    conn.login("demouser", "demopass")
    return conn


def clear_and_append(port: int, messages: list[bytes]) -> None:
    conn = connect(port)
    conn.select("INBOX")
    conn.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
    conn.expunge()
    for raw in messages:
        conn.append("INBOX", None, None, raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    conn.logout()


def count(port: int) -> int:
    conn = connect(port)
    _, data = conn.select("INBOX")
    conn.logout()
    return int(data[0] or 0)


def test_every_message_is_processed_and_deleted(sessions, cli_env, imap_port) -> None:
    who = subscriber(sessions)
    rows = [sent(sessions, who, n) for n in range(3)]
    clear_and_append(imap_port, [
        fixture("postfix_hard", rows[0], msgid="i1"), fixture("soft_mailbox_full", rows[1]),
        fixture("forged", rows[2]), b"not a message at all", fixture("gmail_hard", rows[2]),
    ])
    url = f"imap://demouser:demopass@127.0.0.1:{imap_port}/INBOX"
    result = CliRunner().invoke(main, ["bounces", "--imap", url],
                                env={**cli_env, "DIGEST_BOUNCE_ADDRESS": BOUNCE})
    assert result.exit_code == 0, result.output
    assert result.output == "hard 2, soft 1, complaints 0, ignored 2\n"
    # rows 0 and 2 bounced hard, row 1 only soft (the address exists): not two in a row.
    assert state(sessions, who) == ("confirmed", 1, 1)
    assert count(imap_port) == 0


def test_a_refused_login_exits_1_and_names_the_user(sessions, cli_env, imap_port) -> None:
    url = f"imap://demouser:wrong@127.0.0.1:{imap_port}/INBOX"
    result = CliRunner().invoke(main, ["bounces", "--imap", url], env=cli_env)
    assert result.exit_code == 1
    assert "refused the login of 'demouser'" in result.output


def test_no_server_exits_1(sessions, cli_env) -> None:
    url = f"imap://u:p@127.0.0.1:{free_port()}/INBOX"
    result = CliRunner().invoke(main, ["bounces", "--imap", url], env=cli_env)
    assert result.exit_code == 1
    assert "cannot reach the IMAP server" in result.output
