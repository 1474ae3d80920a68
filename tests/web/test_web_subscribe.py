"""The subscribe page and POST /subscribe: the form, validation, no enumeration, rate limits."""

from __future__ import annotations

import dataclasses
import re
from datetime import time, timedelta

import pytest
from web_support import (
    FORM,
    add_paper,
    csrf_from,
    make_app,
    outbox,
    post_form,
    subscribe,
    subscriber,
    update_subscriber,
    without_csrf,
)

from digest.subscribers.subscriptions import MAX_EMAILS_PER_ADDRESS


@pytest.fixture
def client(services, clock):
    return make_app(services, clock).test_client()


def _error(page: str, field: str) -> str:
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', page)
    assert found, f"no error shown next to {field}"
    return found[1]


def test_the_page_offers_every_field_prefilled_with_the_configured_defaults(services, clock):
    settings = dataclasses.replace(services.settings, send_time=time(6, 45), timezone="Asia/Tokyo")
    app = make_app(dataclasses.replace(services, settings=settings), clock)
    page = app.test_client().get("/").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert '<input type="email" id="email" name="email" value=""' in page
    assert '<textarea id="keywords" name="keywords"' in page
    assert '<input type="radio" name="frequency" value="daily" checked>' in page
    assert '<input type="radio" name="frequency" value="weekly">' in page
    assert 'name="send_time" value="06:45"' in page
    assert 'name="timezone" value="Asia/Tokyo" list="timezone-list"' in page
    assert '<option value="Europe/Berlin">' in page  # common zones inline, the rest linked
    assert 'href="/help/timezones"' in page and 'href="/help/keywords"' in page
    for label in ("email", "keywords", "weekday", "send_time", "timezone"):
        assert f'<label for="{label}">' in page
    for example in ("reinforcement learning", "robot*", "diffusion AND driving", "-survey",
                    "title:juggling", "author:levine", "category:cs.RO"):
        assert f"<code>{example}</code>" in page
    assert 'href="/static/style.css"' in page


def test_valid_input_stores_a_pending_subscriber_and_queues_a_confirmation(client, services):
    answer = subscribe(client, email="  Ada.Lovelace@Example.ORG ")
    assert answer.status_code == 200
    assert "Check your inbox" in answer.get_data(as_text=True)
    stored = subscriber(services.sessions, "ada.lovelace@example.org")
    assert (stored.status, stored.keywords, stored.send_time, stored.timezone) == (
        "pending", "reinforcement learning\nrobot*", "07:30", "Europe/Berlin",
    )
    [queued] = outbox(services.sessions)
    assert (queued.kind, queued.state, queued.to_addr) == (
        "confirm", "queued", "ada.lovelace@example.org",
    )


def test_new_pending_and_subscribed_addresses_get_the_same_page_and_status(client, services):
    new = subscribe(client)
    pending = subscribe(client)
    update_subscriber(services.sessions, status="confirmed")
    subscribed = subscribe(client)
    assert new.status_code == pending.status_code == subscribed.status_code == 200
    pages = {without_csrf(r.get_data(as_text=True)) for r in (new, pending, subscribed)}
    assert len(pages) == 1
    assert [m.kind for m in outbox(services.sessions)] == ["confirm", "confirm", "manage_link"]
    assert subscriber(services.sessions).keywords == FORM["keywords"]


def test_a_subscribed_address_keeps_its_profile_until_a_link_is_followed(client, services):
    subscribe(client)
    update_subscriber(services.sessions, status="confirmed")
    subscribe(client, keywords="something else entirely", frequency="weekly")
    stored = subscriber(services.sessions)
    assert (stored.keywords, stored.frequency) == (FORM["keywords"], "daily")


BAD_INPUT = [
    ("email", "", "Enter your email address."),
    ("email", "not-an-address", "not a usable email address"),
    ("email", "ada@example", "not a usable email address"),
    ("email", "ada@example.org\r\nBcc: victim@example.com", "on one line"),
    ("email", "ada@example.org\nBcc: victim@example.com", "on one line"),
    ("email", "ada@example.org%0d%0aBcc:x@y.z", "not a usable email address"),
    ("email", '"Ada" <ada@example.org>', "not a usable email address"),
    ("email", "ada@example.org, eve@example.org", "not a usable email address"),
    ("email", "<script>alert(1)</script>@example.org", "not a usable email address"),
    ("email", "a" * 250 + "@example.org", "longer than 254"),
    ("keywords", "", "Enter at least one keyword."),
    ("keywords", "   \n , ", "Enter at least one keyword."),
    ("keywords", "-survey", "without a minus"),
    ("keywords", "robot*\n\"open quote", "open quote"),
    ("keywords", "a" * 101, "a" * 20),
    ("keywords", "\n".join(f"term{i}" for i in range(51)), "term50"),
    ("keywords", "x " * 3100, "longer than 6000"),
    ("frequency", "hourly", "daily or weekly"),
    ("send_time", "25:00", "HH:MM"),
    ("send_time", "7pm", "HH:MM"),
    ("send_time", "", "HH:MM"),
    ("timezone", "Mars/Olympus_Mons", "timezone"),
    ("timezone", "UTC\r\nX-Injected: 1", "timezone"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_INPUT)
def test_invalid_input_shows_the_error_by_the_field_and_stores_nothing(
    client, services, field, value, message
):
    answer = subscribe(client, **{field: value})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert message in _error(page, field)
    assert subscriber(services.sessions) is None
    assert outbox(services.sessions) == []


def test_an_invalid_weekday_is_refused_for_weekly_digests(client, services):
    answer = subscribe(client, frequency="weekly", weekday="someday")
    assert answer.status_code == 400
    assert "day of the week" in _error(answer.get_data(as_text=True), "weekday")


def test_the_form_comes_back_with_the_typed_values_escaped(client):
    typed = 'robot*\n<img src=x onerror=alert(1)>\n"quoted, phrase"'
    answer = subscribe(client, email="<b>not valid", keywords=typed, frequency="weekly",
                       weekday="friday", send_time="21:15", timezone="Asia/Kolkata")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "<img src=x" not in page and "<b>not valid" not in page
    assert 'value="&lt;b&gt;not valid"' in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&#34;quoted, phrase&#34;" in page or "&quot;quoted, phrase&quot;" in page
    assert '<input type="radio" name="frequency" value="weekly" checked>' in page
    assert '<option value="friday" selected>' in page
    assert 'value="21:15"' in page
    assert 'name="timezone" value="Asia/Kolkata"' in page


def test_a_request_body_over_64_kib_is_refused(client, services):
    answer = subscribe(client, keywords="robot " * 20_000)
    assert answer.status_code == 413
    assert subscriber(services.sessions) is None


def test_a_filled_honeypot_gets_the_same_page_and_nothing_happens(client, services):
    answer = subscribe(client, website="http://spam.example")
    assert answer.status_code == 200
    assert "Check your inbox" in answer.get_data(as_text=True)
    assert subscriber(services.sessions) is None
    assert outbox(services.sessions) == []


def test_a_burst_of_30_requests_for_one_address_sends_at_most_3_emails(services, clock):
    client = make_app(services, clock).test_client()
    pages = set()
    for attempt in range(30):
        client.environ_base["REMOTE_ADDR"] = f"10.0.{attempt}.1"  # many clients, one victim
        answer = subscribe(client)
        assert answer.status_code == 200
        pages.add(without_csrf(answer.get_data(as_text=True)))
        clock.advance(minutes=1)
    assert len(pages) == 1
    assert len(outbox(services.sessions)) == MAX_EMAILS_PER_ADDRESS == 3

    clock.advance(hours=24)
    subscribe(client)
    assert len(outbox(services.sessions)) == 4  # the cap is per 24 hours


def test_one_client_is_limited_by_the_subscribe_rate_limit(services, clock):
    settings = dataclasses.replace(services.settings, subscribe_rate_limit="2 per hour")
    client = make_app(dataclasses.replace(services, settings=settings), clock).test_client()
    assert subscribe(client, email="a@example.org").status_code == 200
    assert subscribe(client, email="b@example.org").status_code == 200
    refused = subscribe(client, email="c@example.org")
    assert refused.status_code == 429
    assert "Too many requests" in refused.get_data(as_text=True)
    assert subscriber(services.sessions, "c@example.org") is None


def test_check_counts_the_papers_of_the_last_7_days_the_keywords_match(client, services, clock):
    now = clock.now
    add_paper(services.sessions, "1", "Robots that juggle", now - timedelta(days=1))
    add_paper(services.sessions, "2", "Robotic grasping at scale", now - timedelta(days=6))
    add_paper(services.sessions, "3", "Robot soccer, revisited", now - timedelta(days=8))
    add_paper(services.sessions, "4", "Language models that count", now - timedelta(hours=1))
    answer = post_form(client, "/", "/check", **{**FORM, "keywords": "robot*", "email": ""})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert "<strong>2 papers</strong> of the last 7 days" in page
    assert "Robots that juggle" in page and "Robotic grasping at scale" in page
    assert "Robot soccer" not in page
    assert 'id="email-error"' not in page  # only the keywords are judged by the check
    assert subscriber(services.sessions) is None and outbox(services.sessions) == []


def test_check_shows_a_keyword_error_next_to_the_field(client):
    answer = post_form(client, "/", "/check", **{**FORM, "keywords": 'title:"unclosed'})
    assert answer.status_code == 400
    assert "unclosed" in _error(answer.get_data(as_text=True), "keywords")


def test_behind_a_trusted_proxy_the_limit_counts_each_forwarded_client(services, clock):
    settings = dataclasses.replace(
        services.settings, subscribe_rate_limit="1 per hour", proxy_hops=1
    )
    client = make_app(dataclasses.replace(services, settings=settings), clock).test_client()

    def from_client(address: str, email: str):
        page = client.get("/", headers={"X-Forwarded-For": address})
        token = csrf_from(page.get_data(as_text=True))
        form = {**FORM, "email": email, "csrf_token": token}
        return client.post("/subscribe", data=form, headers={"X-Forwarded-For": address})

    assert from_client("203.0.113.1", "a@example.org").status_code == 200
    assert from_client("203.0.113.2", "b@example.org").status_code == 200
    assert from_client("203.0.113.1", "c@example.org").status_code == 429


def test_the_page_is_small_and_the_full_lists_have_pages_of_their_own(client) -> None:
    page = client.get("/")
    assert len(page.data) < 15_000  # before compression
    zones = client.get("/help/timezones")
    assert zones.get_data(as_text=True).count("<code>") > 400  # the real IANA list
    assert "<code>Asia/Kolkata</code>" in zones.get_data(as_text=True)
    guide = client.get("/help/keywords").get_data(as_text=True)
    for example in ("robot*", "diffusion AND driving", "-survey", "category:cs.RO"):
        assert f"<code>{example}</code>" in guide
    assert zones.headers["Cache-Control"] == "public, max-age=86400"


def test_a_timezone_typed_outside_the_suggestions_is_accepted(client, services) -> None:
    answer = subscribe(client, timezone="America/Argentina/Cordoba")
    assert answer.status_code == 200
    assert subscriber(services.sessions).timezone == "America/Argentina/Cordoba"


def test_pages_are_gzipped_for_clients_that_accept_it(client) -> None:
    import gzip

    plain = client.get("/")
    packed = client.get("/", headers={"Accept-Encoding": "br, gzip"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    for answer in (plain, packed):
        assert "Accept-Encoding" in answer.headers["Vary"]
    assert len(packed.data) < len(plain.data) / 2
    # The CSRF token differs per response; everything else is the same page.
    strip = re.compile(r'name="csrf_token" value="[^"]+"')
    unpacked = gzip.decompress(packed.data).decode()
    assert strip.sub("", unpacked) == strip.sub("", plain.get_data(as_text=True))
    refused = client.get("/", headers={"Accept-Encoding": "gzip;q=0"})
    assert "Content-Encoding" not in refused.headers
    small = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers  # under 1 KB: sent as it is
