"""A real browser subscribes through the page `digest serve` serves, opens the emailed link and
confirms. Playwright drives Debian's chromium; the email arrives at a real aiosmtpd server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from browser_support import ARTIFACTS, CHROMIUM_ARGS, ROOT
from smtp_fixture import SmtpServer, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(cli_env, smtp_server: SmtpServer, feeds_dir: Path) -> Iterator[str]:
    """`digest serve` on a free port, mailing through the test SMTP server."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ, **cli_env, "DIGEST_BASE_URL": base_url, "DIGEST_SMTP_URL": smtp_server.url,
        "DIGEST_FEEDS": str(feeds_dir / "arxiv-rss-cs.AI-2026-04-27-excerpt.xml"),
    }
    process = subprocess.Popen(
        [sys.executable, "-c", "from digest.cli import main; main()", "serve", "--port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        _wait_until(lambda: _answers(f"{base_url}/healthz"), 30, "digest serve did not start")
        yield base_url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert process.returncode == 0, output  # SIGTERM stops the server and scheduler cleanly


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_until(condition, seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(message)
        time.sleep(0.2)


def test_a_visitor_subscribes_and_confirms_in_a_real_browser(
    server: str, smtp_server: SmtpServer, chromium_path: str
):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(server)
            page.get_by_label("Email address").fill("grace@example.org")
            page.get_by_label("Keywords", exact=True).fill("reinforcement learning\nrobot*")
            page.get_by_role("radio", name="Weekly").check()
            page.get_by_label("Day of the week").select_option("friday")
            page.get_by_label("Send time").fill("08:30")
            page.get_by_label("Timezone").fill("Europe/Berlin")
            page.get_by_role("button", name="Subscribe", exact=True).click()
            page.get_by_role("heading", name="Check your inbox").wait_for()

            _wait_until(lambda: smtp_server.messages, 30, "no confirmation email arrived")
            [email] = smtp_server.messages
            assert email.rcpt_tos == ["grace@example.org"]
            body = email.message.get_body(preferencelist=("plain",)).get_content()
            link = re.search(rf"{re.escape(server)}/confirm/\S+", body)[0]

            page.goto(link)
            page.get_by_role("button", name="Confirm my subscription").click()
            page.get_by_role("heading", name="You are subscribed").wait_for()
            text = page.inner_text("main")
            assert "Your first digest arrives on Friday" in text
            assert "at 08:30 (Europe/Berlin)" in text
            page.screenshot(path=str(ARTIFACTS / "subscribe-confirmed.png"), full_page=True)
        finally:
            browser.close()
