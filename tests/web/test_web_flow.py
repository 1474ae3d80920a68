"""The whole life of a subscription through the pages and the emails, with a real SMTP server."""

from __future__ import annotations

import json
import re

from sqlalchemy import func, select
from web_support import (
    csrf_from,
    link_in,
    make_app,
    outbox,
    post_form,
    subscribe,
    subscriber,
    text_part,
)

from digest.mail.outbox import deliver
from digest.models import OutboxMessage


def _manage_link(page: str) -> str:
    found = re.search(r'href="https?://[^/"]+(/manage/[^"]+)"', page)
    assert found, "no manage link on the page"
    return found[1]


def test_a_reader_subscribes_confirms_manages_and_leaves_with_pages_and_emails(
    smtp_services, smtp_server, clock
):
    sessions = smtp_services.sessions
    client = make_app(smtp_services, clock).test_client()

    answer = subscribe(client)
    assert answer.status_code == 200
    assert "Check your inbox" in answer.get_data(as_text=True)
    assert smtp_server.messages == []  # queued in the request, sent by the delivery loop

    assert deliver(smtp_services, worker_id="test", clock=clock).sent == 1
    [received] = smtp_server.messages
    assert received.rcpt_tos == ["ada@example.org"]
    email = received.message
    assert email["Subject"] == "Confirm your Paper Digest subscription"
    confirm = link_in(email, "confirm")

    page = client.get(confirm)
    assert page.status_code == 200
    assert "Confirm my subscription" in page.get_data(as_text=True)
    assert subscriber(sessions).status == "pending"  # a GET (mail scanners) changes nothing

    confirmed = post_form(client, confirm, confirm)
    text = confirmed.get_data(as_text=True)
    assert confirmed.status_code == 200
    assert "You are subscribed" in text
    # 07:00 UTC is 09:00 in Berlin: today's 07:30 has passed, so the first digest comes tomorrow.
    assert "Tuesday 28 April 2026 at 07:30 (Europe/Berlin)" in text
    stored = subscriber(sessions)
    assert (stored.status, stored.confirmed_at, stored.last_digest_at) == (
        "confirmed", clock.now, None,
    )
    assert "already confirmed" in post_form(client, "/", confirm).get_data(as_text=True)

    manage = _manage_link(text)
    saved = post_form(
        client, manage, manage,
        keywords="diffusion AND driving\n-survey", frequency="weekly", weekday="friday",
        send_time="18:00", timezone="America/New_York",
    )
    assert saved.status_code == 303
    assert "are saved" in client.get(manage).get_data(as_text=True)
    stored = subscriber(sessions)
    assert (stored.keywords, stored.frequency, stored.weekday) == (
        "diffusion AND driving\n-survey", "weekly", 4,
    )
    assert (stored.send_time, stored.timezone, stored.next_digest_at) == (
        "18:00", "America/New_York", None,
    )

    post_form(client, manage, f"{manage}/pause")
    assert subscriber(sessions).paused is True
    assert "Resume digests" in client.get(manage).get_data(as_text=True)
    post_form(client, manage, f"{manage}/resume")
    assert subscriber(sessions).paused is False

    export = post_form(client, manage, f"{manage}/export")
    assert export.status_code == 200
    assert export.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(export.get_data(as_text=True))
    assert data["email"] == "ada@example.org"
    assert data["keywords"] == "diffusion AND driving\n-survey"
    assert data["schedule"] == {
        "frequency": "weekly", "weekday": "friday", "send_time": "18:00",
        "timezone": "America/New_York",
    }
    assert data["status"] == "confirmed"
    assert data["dates"]["confirmed_at"] == clock.now.isoformat()
    assert [m.kind for m in outbox(sessions)] == ["confirm", "notice"]

    # Asking again from the subscribe form mails the manage link and changes nothing.
    subscribe(client)
    deliver(smtp_services, worker_id="test", clock=clock)
    assert subscriber(sessions).keywords == "diffusion AND driving\n-survey"
    mailed = smtp_server.messages[-1].message
    assert mailed["Subject"] == "Your Paper Digest subscription"
    mailed_manage = client.get(link_in(mailed, "manage"))
    assert "diffusion AND driving" in mailed_manage.get_data(as_text=True)
    unsubscribe = link_in(mailed, "unsubscribe")

    shown = client.get(unsubscribe)
    assert shown.status_code == 200
    assert subscriber(sessions).status == "confirmed"  # GET shows one button, nothing more
    left = post_form(client, unsubscribe, unsubscribe)
    assert left.status_code == 200
    assert "You are unsubscribed" in left.get_data(as_text=True)
    stored = subscriber(sessions)
    assert (stored.status, stored.unsubscribed_at) == ("unsubscribed", clock.now)

    mail_provider = make_app(smtp_services, clock).test_client()  # no cookies, no CSRF token
    for _ in range(2):
        one_click = mail_provider.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
        assert one_click.status_code == 200
        assert "Location" not in one_click.headers
    assert subscriber(sessions).unsubscribed_at == clock.now

    assert "Delete all your data?" in client.get(f"{manage}/delete").get_data(as_text=True)
    deleted = post_form(client, f"{manage}/delete", f"{manage}/delete")
    assert "Your data is deleted" in deleted.get_data(as_text=True)
    assert subscriber(sessions) is None
    with sessions() as session:
        assert session.scalar(select(func.count(OutboxMessage.id))) == 0
    assert client.get(manage).status_code == 404
    gone = mail_provider.post(unsubscribe, data={"List-Unsubscribe": "One-Click"})
    assert gone.status_code == 404


def test_after_unsubscribing_an_address_can_subscribe_again_through_a_new_confirmation(
    smtp_services, smtp_server, clock
):
    client = make_app(smtp_services, clock).test_client()
    subscribe(client)
    deliver(smtp_services, worker_id="test", clock=clock)
    confirm = link_in(smtp_server.messages[0].message, "confirm")
    manage = _manage_link(post_form(client, confirm, confirm).get_data(as_text=True))
    page = client.get(manage).get_data(as_text=True)
    unsubscribe = re.search(r'action="(/unsubscribe/[^"]+)"', page)[1]
    client.post(unsubscribe, data={"csrf_token": csrf_from(page)})
    assert subscriber(smtp_services.sessions).status == "unsubscribed"

    # The old confirmation link does not bring the subscription back by itself.
    assert "was ended" in post_form(client, "/", confirm).get_data(as_text=True)

    clock.advance(hours=1)
    assert subscribe(client, keywords="world models").status_code == 200
    deliver(smtp_services, worker_id="test", clock=clock)
    fresh = link_in(smtp_server.messages[-1].message, "confirm")
    assert "world models" in text_part(smtp_server.messages[-1].message)
    assert "You are subscribed" in post_form(client, fresh, fresh).get_data(as_text=True)
    stored = subscriber(smtp_services.sessions)
    assert (stored.status, stored.keywords, stored.confirmed_at) == (
        "confirmed", "world models", clock.now,
    )
