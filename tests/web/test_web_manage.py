"""The manage page, unsubscribe and the digest page, set up directly in the database."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from web_support import (
    add_paper,
    add_subscriber,
    csrf_from,
    make_app,
    outbox,
    post_form,
    subscriber,
    update_subscriber,
)

from digest.mail.outbox import queue_email
from digest.models import Digest, OutboxMessage, Paper, pack_ids
from digest.tokens import Tokens


@pytest.fixture
def client(services, clock):
    return make_app(services, clock).test_client()


@pytest.fixture
def tokens(settings):
    return Tokens(settings.secret_key)


@pytest.fixture
def ada(services, clock):
    return add_subscriber(
        services.sessions, clock.now, keywords="robot*", frequency="weekly", weekday=2,
        send_time="08:15", timezone="Europe/Paris", next_digest_at=clock.now + timedelta(days=1),
    )


@pytest.fixture
def manage(tokens, ada):
    return f"/manage/{tokens.make('manage', ada)}"


def _digest(services, ada, clock, count: int, title: str = "Paper {}") -> Digest:
    papers = [
        add_paper(services.sessions, f"p{i}", title.format(i), clock.now) for i in range(count)
    ]
    with services.sessions.begin() as session:
        digest = Digest(
            subscriber_id=ada.id, scheduled_for=clock.now, window_start=clock.now - timedelta(1),
            window_end=clock.now, paper_count=count, keywords=ada.keywords,
            paper_ids=pack_ids([paper.id for paper in papers]),
        )
        session.add(digest)
        session.flush()
        return digest


def test_the_manage_page_shows_the_subscription_with_its_values_prefilled(client, manage):
    page = client.get(manage).get_data(as_text=True)
    assert "ada@example.org" in page and "Active" in page
    assert ">robot*</textarea>" in page
    assert '<input type="radio" name="frequency" value="weekly" checked>' in page
    assert '<option value="wednesday" selected>' in page
    assert 'value="08:15"' in page
    assert 'name="timezone" value="Europe/Paris"' in page
    assert "Next digest: <strong>Tuesday 28 April 2026 at 09:00 (Europe/Paris)</strong>" in page


def test_a_keyword_error_on_the_manage_page_is_shown_and_nothing_changes(client, services, manage):
    answer = post_form(client, manage, manage, keywords='robot*\ntitle:"open', frequency="daily",
                       weekday="monday", send_time="07:00", timezone="UTC")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'id="keywords-error"' in page and "open" in page
    assert "Nothing was saved" in page
    stored = subscriber(services.sessions)
    assert (stored.keywords, stored.frequency) == ("robot*", "weekly")


def test_changing_only_keywords_keeps_the_planned_digest(client, services, manage, clock):
    post_form(client, manage, manage, keywords="robot*\nworld model", frequency="weekly",
              weekday="wednesday", send_time="08:15", timezone="Europe/Paris")
    stored = subscriber(services.sessions)
    assert stored.keywords == "robot*\nworld model"
    assert stored.next_digest_at == clock.now + timedelta(days=1)


def test_changing_the_schedule_leaves_the_next_digest_to_the_planner(client, services, manage):
    post_form(client, manage, manage, keywords="robot*", frequency="weekly",
              weekday="wednesday", send_time="08:15", timezone="Asia/Tokyo")
    assert subscriber(services.sessions).next_digest_at is None


def test_pause_stops_and_resume_replans(client, services, manage):
    post_form(client, manage, f"{manage}/pause")
    stored = subscriber(services.sessions)
    assert stored.paused is True
    assert "Paused" in client.get(manage).get_data(as_text=True)
    post_form(client, manage, f"{manage}/resume")
    stored = subscriber(services.sessions)
    assert (stored.paused, stored.next_digest_at) == (False, None)


def test_a_suspended_subscription_is_explained_and_can_be_resumed(client, services, manage, clock):
    update_subscriber(services.sessions, status="suspended", suspended_at=clock.now,
                      hard_failures=3)
    page = client.get(manage).get_data(as_text=True)
    assert "Delivery is suspended" in page
    assert "Monday 27 April 2026 at 09:00 (Europe/Paris)" in page
    post_form(client, manage, f"{manage}/resume")
    stored = subscriber(services.sessions)
    assert (stored.status, stored.suspended_at, stored.hard_failures) == ("confirmed", None, 0)


def test_unsubscribing_cancels_mail_already_queued(client, services, tokens, ada, clock):
    with services.sessions.begin() as session:
        queue_email(session, services.settings, kind="digest", dedupe_key="d1",
                    to_addr=ada.email, subject="3 new papers", text="…", html=None,
                    now=clock.now, subscriber_id=ada.id)
    unsubscribe = f"/unsubscribe/{tokens.make('unsubscribe', ada)}"
    answer = make_app(services, clock).test_client().post(
        unsubscribe, data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 200
    assert [m.state for m in outbox(services.sessions)] == ["cancelled"]
    assert subscriber(services.sessions).status == "unsubscribed"


def test_one_click_works_as_multipart_too(services, tokens, ada, clock):
    client = make_app(services, clock).test_client()
    answer = client.post(f"/unsubscribe/{tokens.make('unsubscribe', ada)}",
                         data={"List-Unsubscribe": "One-Click"}, content_type="multipart/form-data")
    assert answer.status_code == 200
    assert subscriber(services.sessions).status == "unsubscribed"


def test_an_unsubscribed_reader_can_ask_for_a_new_confirmation(client, services, manage):
    update_subscriber(services.sessions, status="unsubscribed")
    page = client.get(manage).get_data(as_text=True)
    assert "Subscribe again" in page
    answer = client.post(f"{manage}/resubscribe", data={"csrf_token": csrf_from(page)})
    assert "Check your inbox" in answer.get_data(as_text=True)
    assert subscriber(services.sessions).status == "unsubscribed"  # until the link is followed
    assert [m.kind for m in outbox(services.sessions)] == ["confirm"]


def test_export_holds_the_digests_with_their_paper_titles(client, services, ada, clock, manage):
    _digest(services, ada, clock, 2, title="Robots number {}")
    answer = post_form(client, manage, f"{manage}/export")
    data = json.loads(answer.get_data(as_text=True))
    assert answer.mimetype == "application/json"
    [digest] = data["digests"]
    assert [p["title"] for p in digest["papers"]] == ["Robots number 0", "Robots number 1"]
    assert [m.kind for m in outbox(services.sessions)] == ["notice"]  # the address is told
    post_form(client, manage, f"{manage}/export")
    assert len(outbox(services.sessions)) == 1  # one notice an hour, however many downloads


def test_delete_removes_the_subscriber_digests_ledger_and_mail_but_not_papers(
    client, services, ada, clock, manage
):
    _digest(services, ada, clock, 3)
    post_form(client, manage, f"{manage}/export")
    post_form(client, f"{manage}/delete", f"{manage}/delete")
    with services.sessions() as session:
        for model, left in ((Digest, 0), (OutboxMessage, 0), (Paper, 3)):
            assert session.scalar(select(func.count()).select_from(model)) == left, model
    assert subscriber(services.sessions) is None


def test_the_digest_page_shows_every_matched_paper_escaped(client, services, tokens, ada, clock):
    assert services.settings.max_papers == 25
    digest = _digest(services, ada, clock, 30, title="<script>alert({})</script> Robots")
    answer = client.get(f"/digest/{tokens.make('digest', ada, digest.id)}")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200
    assert page.count('<li class="paper">') == 30
    assert "<script>" not in page and "&lt;script&gt;alert(29)&lt;/script&gt;" in page
    assert "<mark>Robots</mark>" in page


def test_a_digest_token_only_opens_its_own_subscribers_digest(client, services, tokens, ada, clock):
    digest = _digest(services, ada, clock, 1)
    eve = add_subscriber(services.sessions, clock.now, email="eve@example.org")
    assert client.get(f"/digest/{tokens.make('digest', eve, digest.id)}").status_code == 404
