"""The whole service as a reader meets it: subscribe on the web, confirm by email, receive two
days of digests over real SMTP (each paper once), open one in the browser, leave in one click.
"""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import urlsplit

from web_support import link_in, make_app, post_form, subscribe, text_part

from digest import pipeline
from digest.mail import outbox

DAY_ONE = ["hf-daily-papers-2026-07-31.json"]
DAY_TWO = [
    "arxiv-api-atom-2026-08-02-cat-cs.AI-cs.LG-cs.CL-sort-submittedDate.xml",
    "arxiv-rss-cs.AI-2026-04-27-excerpt.xml",
    "hf-daily-papers-2026-07-31.json",  # fetched again: nothing in it is new
]
DAY_THREE = ["arxiv-rss-cs.CL-2026-04-27-excerpt.xml"]
KEYWORDS = "agent*\nlanguage model*"
PAGE_LINK = re.compile(r"https://arxiv\.org/abs/[\w.]+")


def fetch(services, feeds_dir, names, now) -> None:
    results = pipeline.fetch(services, now=now, sources=[str(feeds_dir / n) for n in names])
    assert all(result.error is None for result in results), results


def papers_in(message) -> set[str]:
    return set(PAGE_LINK.findall(text_part(message)))


def test_a_reader_gets_every_matching_paper_once_and_leaves_in_one_click(
    smtp_services, smtp_server, clock, feeds_dir
):
    settings = dataclasses.replace(smtp_services.settings, max_papers=10)
    services = dataclasses.replace(smtp_services, settings=settings)
    client = make_app(services, clock).test_client()

    # Monday 27 April 2026, 07:00 UTC: subscribe and confirm.
    subscribe(client, keywords=KEYWORDS, timezone="UTC", send_time="08:00")
    outbox.deliver(services, worker_id="test", clock=clock)
    confirm = link_in(smtp_server.messages[-1].message, "confirm")
    post_form(client, confirm, confirm)

    fetch(services, feeds_dir, DAY_ONE, clock.advance(minutes=10))
    assert pipeline.send(services, clock=clock).line() == "sent 0, empty 0, deferred 0, failed 0"

    clock.advance(minutes=50)  # 08:00, the chosen send time
    assert pipeline.send(services, clock=clock).line() == "sent 1, empty 0, deferred 0, failed 0"
    first = smtp_server.messages[-1].message
    assert first["To"] == "ada@example.org"
    assert first["Subject"].startswith("22 new papers")
    for header in ("From", "Date", "Message-ID", "List-Id"):
        assert first[header], header
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_url = first["List-Unsubscribe"].strip("<>").split(">")[0]
    assert unsubscribe_url.startswith(f"{settings.base_url}/unsubscribe/")
    assert len(papers_in(first)) == 10  # DIGEST_MAX_PAPERS; the rest are on the web page
    page = client.get(link_in(first, "digest"))
    assert page.status_code == 200
    assert len(set(PAGE_LINK.findall(page.get_data(as_text=True)))) == 22
    assert pipeline.send(services, clock=clock).line() == "sent 0, empty 0, deferred 0, failed 0"

    # Tuesday: new feeds (and yesterday's again); the digest holds only papers first seen since.
    fetch(services, feeds_dir, DAY_TWO, clock.advance(hours=22))
    clock.advance(hours=2)
    assert pipeline.send(services, clock=clock).line() == "sent 1, empty 0, deferred 0, failed 0"
    second = smtp_server.messages[-1].message
    assert "new papers" in second["Subject"]
    day_one_page = set(PAGE_LINK.findall(page.get_data(as_text=True)))
    second_page = client.get(link_in(second, "digest")).get_data(as_text=True)
    day_two_page = set(PAGE_LINK.findall(second_page))
    assert day_two_page and not day_one_page & day_two_page
    assert smtp_server.message_ids().most_common(1)[0][1] == 1

    # The mail provider's one-click unsubscribe: no cookies, no CSRF token, 200, no redirect.
    provider = make_app(services, clock).test_client()
    answer = provider.post(
        urlsplit(unsubscribe_url).path, data={"List-Unsubscribe": "One-Click"}
    )
    assert answer.status_code == 200 and "Location" not in answer.headers

    fetch(services, feeds_dir, DAY_THREE, clock.advance(hours=1))
    before = len(smtp_server.messages)
    clock.advance(days=1, hours=-1)
    assert pipeline.send(services, clock=clock).line() == "sent 0, empty 0, deferred 0, failed 0"
    assert len(smtp_server.messages) == before
