"""The subscription domain functions, without the web: validation, outcomes, state changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from web_support import FORM, add_subscriber, outbox, subscriber

from digest.mail.render import Renderer
from digest.subscribers.subscriptions import (
    InvalidSubscription,
    apply_preferences,
    clean_email,
    clean_keywords,
    clean_send_time,
    clean_timezone,
    clean_weekday,
    confirm,
    delete_data,
    subscribe,
    unsubscribe,
    validate_subscription,
)
from digest.tokens import Tokens


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Ada@Example.ORG", "ada@example.org"),
        ("  ada@example.org\t", "ada@example.org"),
        ("ada@bücher.de", "ada@xn--bcher-kva.de"),
    ],
)
def test_addresses_are_normalised(typed, stored):
    assert clean_email(typed) == stored


@pytest.mark.parametrize("typed", ["ada@example.org\r\nBcc: x@y.z", "ada\x00@example.org",
                                   "ädä@example.org", "@example.org", "ada@", "a b@example.org",
                                   "=?utf-8?q?evil=40example.net=2C?=@example.org",
                                   "=?utf-8?b?ZXZpbEBleGFtcGxlLm5ldA==?=@example.org",
                                   '"a,b"@example.org'])
def test_unusable_addresses_are_refused_with_one_sentence(typed):
    with pytest.raises(ValueError, match=r"\.$"):
        clean_email(typed)


def test_schedule_values_are_read_leniently_and_stored_canonically():
    assert clean_send_time("7:05") == "07:05"
    assert clean_send_time("23:59:00") == "23:59"
    assert clean_weekday("Fri") == clean_weekday("friday") == clean_weekday("4") == 4
    assert clean_timezone("europe/berlin") == "Europe/Berlin"


def test_validation_collects_every_fields_error_and_defaults_missing_schedule_fields(settings):
    with pytest.raises(InvalidSubscription) as caught:
        validate_subscription({"email": "nope", "keywords": "", "send_time": "99:00"}, settings)
    assert set(caught.value.errors) == {"email", "keywords", "send_time"}
    request = validate_subscription({"email": "a@example.org", "keywords": "robot*"}, settings)
    preferences = request.preferences
    assert (preferences.frequency, preferences.send_time, preferences.timezone) == (
        "daily", "07:00", "UTC",
    )


@pytest.fixture
def deps(settings):
    return {"tokens": Tokens(settings.secret_key), "renderer": Renderer(settings)}


def test_subscribe_outcomes_follow_the_address_state(services, settings, clock, deps):
    request = validate_subscription(FORM, settings)
    with services.sessions.begin() as session:
        assert subscribe(session, settings, request, now=clock.now, **deps) == "confirm_sent"
    stored = subscriber(services.sessions)
    with services.sessions.begin() as session:
        confirmed = session.merge(stored)
        assert confirm(session, confirmed, now=clock.now) == "confirmed"
        assert confirm(session, confirmed, now=clock.now) == "already"
    with services.sessions.begin() as session:
        assert subscribe(session, settings, request, now=clock.now, **deps) == "manage_link_sent"
        assert subscribe(session, settings, request, now=clock.now, **deps) == "manage_link_sent"
        assert subscribe(session, settings, request, now=clock.now, **deps) == "capped"
    assert [m.kind for m in outbox(services.sessions)] == ["confirm", "manage_link", "manage_link"]


def test_confirming_resets_the_schedule_for_the_planner(services, clock):
    ada = add_subscriber(services.sessions, clock.now, status="pending", confirmed_at=None,
                         paused=True, next_digest_at=clock.now, last_digest_at=clock.now)
    with services.sessions.begin() as session:
        ada = session.merge(ada)
        confirm(session, ada, now=clock.now)
        assert (ada.status, ada.confirmed_at, ada.paused) == ("confirmed", clock.now, False)
        assert (ada.next_digest_at, ada.last_digest_at) == (None, None)


def test_unsubscribe_twice_is_harmless(services, clock):
    ada = add_subscriber(services.sessions, clock.now)
    with services.sessions.begin() as session:
        ada = session.merge(ada)
        assert unsubscribe(session, ada, now=clock.now) is True
        assert unsubscribe(session, ada, now=clock.now + timedelta(hours=1)) is False
        assert ada.unsubscribed_at == clock.now


def test_apply_preferences_only_replans_when_the_schedule_changes(services, settings, clock):
    ada = add_subscriber(services.sessions, clock.now, next_digest_at=clock.now)
    same_schedule = validate_subscription(
        {**FORM, "keywords": "new words", "send_time": "07:00", "timezone": "UTC"}, settings
    ).preferences
    apply_preferences(ada, same_schedule)
    assert ada.next_digest_at == clock.now
    apply_preferences(ada, validate_subscription({**FORM, "send_time": "08:00"}, settings)
                      .preferences)
    assert ada.next_digest_at is None


def test_delete_data_removes_the_row(services, clock):
    ada = add_subscriber(services.sessions, clock.now)
    with services.sessions.begin() as session:
        delete_data(session, session.merge(ada))
    assert subscriber(services.sessions) is None


@pytest.mark.parametrize(
    "keywords",
    ["robots\x00", "robots\x1b[2J", "\x1b]0;owned\x07robots", "robots\x7f", "robots\x9b31m",
     "robots\x0bdiffusion", "robo\x85ts"],
)
def test_keywords_with_control_characters_are_refused_in_one_sentence(keywords):
    with pytest.raises(ValueError, match=r"control character.*\.$"):
        clean_keywords(keywords)


def test_keywords_keep_their_newlines_and_tabs():
    typed = "robots\r\ndiffusion\tmodels\rworld"
    assert clean_keywords(typed) == "robots\ndiffusion\tmodels\nworld"


@pytest.mark.parametrize(
    "typed",
    ["\u0660\u0667:\u0660\u0660", "07:\u0660\u0660", "\uff10\uff17:\uff10\uff10",
     "\u06f0\u06f7:\u06f3\u06f0", "7:3"],
)
def test_send_time_takes_ascii_digits_only(typed):
    with pytest.raises(ValueError, match="HH:MM"):
        clean_send_time(typed)


def test_weekday_numbers_are_ascii_digits_only():
    with pytest.raises(ValueError):
        clean_weekday("\u0663")
