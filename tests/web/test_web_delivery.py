"""Choosing email or the feed on the subscribe and manage forms, the confirm page of a feed-only
reader, and the manage page's feed link, last digest and next digest."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from web_support import (
    add_paper,
    add_subscriber,
    link_in,
    make_app,
    outbox,
    parse,
    post_form,
    subscribe,
    subscriber,
    update_subscriber,
)

from digest.mail import outbox as mail_outbox
from digest.models import Digest, pack_ids
from digest.tokens import Tokens


@pytest.fixture
def client(services, clock):
    return make_app(services, clock).test_client()


@pytest.fixture
def tokens(settings) -> Tokens:
    return Tokens(settings.secret_key)


def test_the_subscribe_form_offers_email_or_the_feed_email_first(client):
    page = client.get("/").get_data(as_text=True)
    assert '<input type="radio" name="delivery" value="email" checked>' in page
    assert '<input type="radio" name="delivery" value="feed">' in page
    assert "How you read your digests" in page


def test_an_unknown_delivery_is_shown_next_to_the_field_and_nothing_is_stored(client, services):
    answer = subscribe(client, delivery="pigeon")
    assert answer.status_code == 400
    assert '<p class="error" id="delivery-error">Choose email or feed.</p>' in answer.get_data(
        as_text=True
    )
    assert subscriber(services.sessions) is None


def test_a_feed_only_reader_confirms_by_email_and_is_led_to_the_feed(
    smtp_services, smtp_server, clock, tokens
):
    client = make_app(smtp_services, clock).test_client()
    assert subscribe(client, delivery="feed").status_code == 200
    stored = subscriber(smtp_services.sessions)
    assert (stored.status, stored.delivery) == ("pending", "feed")
    mail_outbox.deliver(smtp_services, worker_id="test", clock=clock)
    confirm = link_in(smtp_server.messages[-1].message, "confirm")
    page = post_form(client, confirm, confirm).get_data(as_text=True)
    assert "Your first digest goes to your personal feed on" in page
    assert "We send no digest emails" in page
    manage = re.search(r'href="[^"]*(/manage/[^"]+)">Get my feed', page)[1]
    manage_page = client.get(manage).get_data(as_text=True)
    feed = f"{smtp_services.settings.base_url}/feed/{tokens.make('feed', stored)}"
    assert f'value="{feed}"' in manage_page

    # Subscribing again sends the manage link (and so the feed) by email, as for anyone.
    subscribe(client, delivery="feed")
    mail_outbox.deliver(smtp_services, worker_id="test", clock=clock)
    last = outbox(smtp_services.sessions)[-1]
    assert last.kind == "manage_link" and link_in(parse(last.message), "manage")


def _manage(tokens, who) -> str:
    return f"/manage/{tokens.make('manage', who)}"


def test_the_manage_form_switches_delivery(client, services, clock, tokens):
    ada = add_subscriber(services.sessions, clock.now)
    manage = _manage(tokens, ada)
    assert '<input type="radio" name="delivery" value="email" checked>' in client.get(
        manage
    ).get_data(as_text=True)
    post_form(client, manage, manage, keywords="robot*", frequency="daily", weekday="monday",
              send_time="07:00", timezone="UTC", delivery="feed")
    stored = subscriber(services.sessions)
    assert stored.delivery == "feed"
    page = client.get(manage).get_data(as_text=True)
    assert '<input type="radio" name="delivery" value="feed" checked>' in page
    assert "Your digests go only to this Atom feed." in page


def test_the_manage_page_shows_the_feed_the_last_digest_and_the_next(
    client, services, clock, tokens
):
    ada = add_subscriber(services.sessions, clock.now, timezone="Europe/Paris",
                         send_time="08:15", next_digest_at=clock.now + timedelta(days=1))
    page = client.get(_manage(tokens, ada)).get_data(as_text=True)
    feed = f"{services.settings.base_url}/feed/{tokens.make('feed', ada)}"
    assert f'<input type="text" id="feed-address" class="feed-address" value="{feed}"' in page
    assert "copy this address and add it there as a new feed" in page
    assert "No digest yet." in page
    assert "Next digest: <strong>Tuesday 28 April 2026 at 09:00 (Europe/Paris)</strong>" in page

    paper = add_paper(services.sessions, "p1", "Robots", clock.now)
    at = clock.now - timedelta(hours=2)
    with services.sessions.begin() as session:
        digest = Digest(subscriber_id=ada.id, scheduled_for=at, window_start=at - timedelta(1),
                        window_end=at, paper_count=1, keywords="robot*", created_at=at,
                        paper_ids=pack_ids([paper.id]))
        session.add(digest)
    update_subscriber(services.sessions, last_digest_at=at)
    page = client.get(_manage(tokens, ada)).get_data(as_text=True)
    last = "Last digest: <strong>Monday 27 April 2026 at 07:00 (Europe/Paris)</strong>, 1 paper."
    assert last in page
    assert "had no new paper" not in page

    # A slot passed with nothing new: the page says so, which is why nothing came.
    update_subscriber(services.sessions, last_digest_at=clock.now)
    page = client.get(_manage(tokens, ada)).get_data(as_text=True)
    assert ("The digest due Monday 27 April 2026 at 09:00 (Europe/Paris) had no new paper that"
            " matched your keywords, so no email was sent.") in page


def test_an_unsubscribed_reader_has_no_feed_link(client, services, clock, tokens):
    ada = add_subscriber(services.sessions, clock.now, status="unsubscribed")
    page = client.get(_manage(tokens, ada)).get_data(as_text=True)
    assert "/feed/" not in page and "Your personal feed" not in page
