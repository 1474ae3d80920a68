"""A real browser logs in to /admin on `digest serve` and sees the charts render under the CSP,
at desktop and phone widths, with a month of history in the database."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from browser_support import ARTIFACTS, CHROMIUM_ARGS
from ops_support import month_of_history
from serve_support import digest_serve, free_port

from digest.db import utcnow
from digest.operate.password import set_password

PASSWORD = "correct horse battery staple"
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(cli_env, sessions) -> Iterator[str]:
    """`digest serve` over a month of history, with a dashboard password set."""
    now = utcnow()
    month_of_history(sessions, now, readers=400)
    with sessions.begin() as session:
        set_password(session, PASSWORD, now=now)
    port = free_port()
    env = {**cli_env, "DIGEST_BASE_URL": f"http://127.0.0.1:{port}", "DIGEST_FEEDS": "/nonexistent"}
    with digest_serve(env, port=port) as base_url:
        yield base_url


@pytest.mark.parametrize("width,shown", [(1280, "wide"), (390, "narrow")])
def test_the_operator_logs_in_and_the_charts_render(server: str, chromium_path: str, width, shown):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.goto(f"{server}/admin")
            field = page.get_by_label("Password").bounding_box()
            assert field and field["height"] >= 40 and field["width"] >= 250  # styled, full width
            assert not page.locator("input[name=username]").is_visible()
            page.screenshot(path=str(ARTIFACTS / f"admin-login-{width}.png"), full_page=True)
            page.get_by_label("Password").fill("not the password")
            page.get_by_role("button", name="Log in").click()
            assert page.get_by_text("That password is not right.").is_visible()
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.get_by_role("heading", name="Dashboard").wait_for()

            charts = page.locator(f"svg.chart.{shown}")
            assert charts.count() == 5
            for i in range(4):
                box = charts.nth(i).bounding_box()
                assert box and box["width"] > 250 and box["height"] > 100
                assert box["x"] >= 0 and box["x"] + box["width"] <= width  # no sideways scroll
            assert page.locator(f"svg.chart.{shown} rect").count() > 60  # the bars were drawn
            assert page.locator(f"svg.chart.{shown} polyline").count() == 4
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.get_by_role("img", name="Subscribers by state, last 30 days").wait_for()

            page.get_by_text("Show as a table").first.click()
            caption = "Subscribers in each state at the end of each day"
            table = page.get_by_role("table", name=caption)
            assert table.is_visible()
            assert table.locator("tbody tr").count() == 30
            newest = table.locator("tbody tr th").first.inner_text()
            assert newest == datetime.now(UTC).date().isoformat()
            assert "https://huggingface.co/api/daily_papers" in page.inner_text("main")
            page.screenshot(path=str(ARTIFACTS / f"admin-{width}.png"), full_page=True)
            assert not [text for text in console if "Content Security Policy" in text], console
        finally:
            browser.close()
