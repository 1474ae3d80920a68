"""A real browser opens a feed-only reader's manage page, served by waitress as `digest serve`
does: it shows the feed's address, the last digest and when the next one is due, and the
address answers with the Atom feed. Playwright drives Debian's chromium."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from browser_support import ARTIFACTS, CHROMIUM_ARGS
from smtp_fixture import free_port
from waitress import create_server
from web_support import add_subscriber, make_app

from digest import pipeline
from digest.tokens import Tokens

FEED = "arxiv-rss-cs.AI-2026-04-27-excerpt.xml"
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def served(services, clock) -> Iterator[tuple[str, object]]:
    """The app on a real waitress server on a free loopback port, links pointing at it."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    live = dataclasses.replace(
        services, settings=dataclasses.replace(services.settings, base_url=base_url)
    )
    server = create_server(make_app(live, clock), host="127.0.0.1", port=port, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield base_url, live
    finally:
        server.close()
        thread.join(timeout=10)


def test_the_manage_page_shows_the_feed_and_the_next_digest_in_a_real_browser(
    served, clock, feeds_dir, chromium_path
):
    from playwright.sync_api import sync_playwright

    base_url, services = served
    ada = add_subscriber(services.sessions, clock.now, keywords="agent*\nlanguage model*",
                         send_time="08:00", timezone="Europe/Berlin", delivery="feed")
    pipeline.fetch(services, now=clock.now, sources=[str(feeds_dir / FEED)])
    clock.advance(days=1)  # 28 April, 07:00 UTC = 09:00 in Berlin, past her 08:00
    summary = pipeline.send(services, clock=clock)
    assert summary.line() == "sent 1, empty 0, deferred 0, failed 0"
    tokens = Tokens(services.settings.secret_key)
    feed_url = f"{base_url}/feed/{tokens.make('feed', ada)}"
    shots = Path(os.environ.get("DIGEST_SHOTS", ARTIFACTS))
    shots.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            for width in (1280, 390):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(f"{base_url}/manage/{tokens.make('manage', ada)}")
                page.get_by_role("heading", name="Your personal feed").wait_for()
                assert page.get_by_label("Feed address").input_value() == feed_url
                text = page.inner_text("main")
                assert "Your digests go only to this Atom feed." in text
                assert "add it there as a new feed" in text
                assert "Last digest: Tuesday 28 April 2026 at 09:00 (Europe/Berlin)" in text
                assert "Next digest: Wednesday 29 April 2026 at 08:00 (Europe/Berlin)" in text
                page.screenshot(path=str(shots / f"manage-feed-{width}.png"), full_page=True)
                page.close()
            answer = browser.new_context().request.get(feed_url)
            assert answer.status == 200
            assert answer.headers["content-type"] == "application/atom+xml; charset=utf-8"
            result = feedparser.parse(answer.body())
            assert not result.bozo and result.entries
        finally:
            browser.close()
