"""An address that unsubscribed stays unsubscribed, keywords and all, until its owner confirms
anew from their inbox (SPEC §4; issue 8, item 2): an anonymous POST /subscribe changes nothing
stored, and the confirmation it mails re-subscribes with the preferences that were requested."""

from __future__ import annotations

import random
import string

import pytest
from click.testing import CliRunner
from web_support import (
    FORM,
    add_subscriber,
    link_in,
    make_app,
    outbox,
    parse,
    post_form,
    subscribe,
    subscriber,
    text_part,
    update_subscriber,
    without_csrf,
)

from digest.cli import main

MAX_REJOIN_TOKEN = 4096  # digest.tokens.MAX_REJOIN_TOKEN, fixed here so the test can fail first

STORED = ("unsubscribed", "old topic", "daily", 0, "07:00", "UTC")


def _state(sessions) -> tuple:
    s = subscriber(sessions)
    return (s.status, s.keywords, s.frequency, s.weekday, s.send_time, s.timezone)


@pytest.fixture
def client(services, clock):
    return make_app(services, clock).test_client()


@pytest.fixture
def unsubscribed(services, clock):
    return add_subscriber(
        services.sessions, clock(), status="unsubscribed", keywords="old topic",
        unsubscribed_at=clock(),
    )


def _confirm_link(services) -> str:
    return link_in(parse(outbox(services.sessions)[-1].message), "confirm")


def test_an_anonymous_subscribe_leaves_an_unsubscribed_row_as_it_was(
    client, services, clock, unsubscribed
) -> None:
    before = subscriber(services.sessions)
    answer = subscribe(client, keywords="world models", frequency="weekly", weekday="friday")
    assert answer.status_code == 200
    after = subscriber(services.sessions)
    assert _state(services.sessions) == STORED
    assert after.token_nonce == before.token_nonce
    assert after.unsubscribed_at == before.unsubscribed_at
    [mailed] = outbox(services.sessions)
    assert mailed.kind == "confirm"
    assert "world models" in text_part(parse(mailed.message))


def test_the_page_is_the_same_as_for_every_other_state(client, services, clock) -> None:
    new = subscribe(client)
    update_subscriber(services.sessions, status="unsubscribed")
    gone = subscribe(client)
    assert new.status_code == gone.status_code == 200
    assert without_csrf(new.get_data(as_text=True)) == without_csrf(gone.get_data(as_text=True))


def test_following_the_new_confirmation_resubscribes_with_the_requested_preferences(
    client, services, clock, unsubscribed
) -> None:
    subscribe(client, keywords="world models", frequency="weekly", weekday="friday")
    link = _confirm_link(services)
    page = client.get(link)
    assert page.status_code == 200
    assert "world models" in page.get_data(as_text=True)
    assert _state(services.sessions) == STORED  # a GET (mail scanners) changes nothing
    confirmed = post_form(client, link, link)
    assert "You are subscribed" in confirmed.get_data(as_text=True)
    assert _state(services.sessions) == (
        "confirmed", "world models", "weekly", 4, FORM["send_time"], FORM["timezone"],
    )
    assert subscriber(services.sessions).confirmed_at == clock()
    again = post_form(client, "/", link)
    assert again.status_code == 200 and "already" in again.get_data(as_text=True)


def test_the_link_dies_when_the_address_unsubscribes_again(
    client, services, clock, unsubscribed
) -> None:
    subscribe(client, keywords="world models")
    link = _confirm_link(services)
    post_form(client, link, link)
    clock.advance(hours=2)
    update_subscriber(services.sessions, status="unsubscribed", unsubscribed_at=clock())
    assert "was ended" in client.get(link).get_data(as_text=True)
    assert "was ended" in post_form(client, "/", link).get_data(as_text=True)
    assert subscriber(services.sessions).status == "unsubscribed"


def test_a_request_too_large_for_a_link_resubscribes_with_the_stored_preferences(
    client, services, clock, unsubscribed
) -> None:
    rng = random.Random(5)
    letters = "αβγδεζηθικλμνξοπρστυφχψω" + string.ascii_lowercase

    def term() -> str:
        return " ".join("".join(rng.choices(letters, k=11)) for _ in range(8))

    huge = "\n".join(term() for _ in range(50))
    assert subscribe(client, keywords=huge).status_code == 200
    link = _confirm_link(services)
    assert len(link) < MAX_REJOIN_TOKEN + 20
    assert "old topic" in text_part(parse(outbox(services.sessions)[-1].message))
    post_form(client, link, link)
    assert _state(services.sessions)[:2] == ("confirmed", "old topic")


def test_an_old_csv_imported_as_confirmed_never_resubscribes_after_a_web_request(
    client, services, clock, unsubscribed, cli_env, tmp_path
) -> None:
    subscribe(client, keywords="world models")  # anyone, from the web form
    csv = tmp_path / "old.csv"
    csv.write_text(
        "email,keywords,frequency,timezone,send_time\nada@example.org,old topic,daily,UTC,07:00\n"
    )
    result = CliRunner().invoke(
        main, ["subscribers", "import", str(csv), "--confirmed"], env=cli_env
    )
    assert "ada@example.org unsubscribed and is not subscribed again" in result.output
    assert _state(services.sessions) == STORED


def test_an_old_confirm_link_of_an_unsubscribed_address_says_ended_on_get_and_post(
    client, services, clock
) -> None:
    subscribe(client)
    link = _confirm_link(services)
    post_form(client, link, link)
    update_subscriber(services.sessions, status="unsubscribed", unsubscribed_at=clock())
    shown, posted = client.get(link), post_form(client, "/", link)
    assert shown.status_code == posted.status_code == 200
    assert without_csrf(shown.get_data(as_text=True)) == without_csrf(posted.get_data(as_text=True))
    assert "was ended" in shown.get_data(as_text=True)
