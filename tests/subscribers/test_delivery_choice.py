"""The `delivery` choice (email or feed): validated like every field, stored, imported and
exported as CSV, and in the data export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from digest.cli import main
from digest.models import Subscriber
from digest.subscribers.roster import COLUMNS, OPTIONAL_COLUMNS
from digest.subscribers.subscriptions import export_data
from digest.subscribers.validation import InvalidSubscription, validate_subscription

NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)


def fields(**more: str) -> dict[str, str]:
    return {"email": "ada@example.org", "keywords": "robot*", **more}


def test_delivery_defaults_to_email_and_accepts_feed(settings) -> None:
    assert validate_subscription(fields(), settings).preferences.delivery == "email"
    assert validate_subscription(fields(delivery=""), settings).preferences.delivery == "email"
    assert validate_subscription(fields(delivery=" Feed "), settings).preferences.delivery == "feed"


def test_an_unknown_delivery_is_one_sentence_next_to_the_field(settings) -> None:
    with pytest.raises(InvalidSubscription) as caught:
        validate_subscription(fields(delivery="pigeon"), settings)
    assert caught.value.errors == {"delivery": "Choose email or feed."}


def run(cli_env, *args: str, stdin: str | None = None):
    return CliRunner().invoke(main, list(args), env=cli_env, input=stdin)


def stored(sessions) -> dict[str, str]:
    with sessions() as session:
        return {s.email: s.delivery for s in session.scalars(select(Subscriber))}


def test_csv_import_takes_an_optional_delivery_column_and_export_writes_it(sessions, cli_env):
    body = (
        "email,keywords,frequency,timezone,send_time,delivery\n"
        "ada@example.org,robot*,daily,UTC,07:00,feed\n"
        "bob@example.org,robot*,daily,UTC,07:00,\n"
        "eve@example.org,robot*,daily,UTC,07:00,fax\n"
    )
    result = run(cli_env, "subscribers", "import", "-", "--confirmed", stdin=body)
    assert result.output.splitlines()[-1] == "imported 2, updated 0, rejected 1"
    assert "line 4: delivery: Choose email or feed." in result.output
    assert stored(sessions) == {"ada@example.org": "feed", "bob@example.org": "email"}

    exported = run(cli_env, "subscribers", "export").stdout
    header, *rows = list(csv.reader(io.StringIO(exported)))
    assert header == [*COLUMNS, *OPTIONAL_COLUMNS]
    assert header[:5] == ["email", "keywords", "frequency", "timezone", "send_time"]
    assert header[-1] == "delivery"
    assert [row[-1] for row in rows] == ["feed", "email"]
    again = run(cli_env, "subscribers", "import", "-", "--confirmed", stdin=exported)
    assert again.output.strip() == "imported 0, updated 0, rejected 0"


def test_a_file_without_the_column_leaves_a_feed_readers_choice_alone(sessions, cli_env):
    run(cli_env, "subscribers", "import", "-", "--confirmed",
        stdin="email,keywords,delivery\nada@example.org,robot*,feed\n")
    result = run(cli_env, "subscribers", "import", "-", "--confirmed",
                 stdin="email,keywords\nada@example.org,robot*\nbob@example.org,robot*\n")
    assert result.output.strip() == "imported 1, updated 0, rejected 0"
    assert stored(sessions) == {"ada@example.org": "feed", "bob@example.org": "email"}
    result = run(cli_env, "subscribers", "import", "-", "--confirmed",
                 stdin="email,keywords,delivery\nada@example.org,robot*,email\n")
    assert result.output.strip() == "imported 0, updated 1, rejected 0"
    assert stored(sessions)["ada@example.org"] == "email"


def test_the_data_export_says_how_digests_are_delivered(sessions) -> None:
    with sessions.begin() as session:
        subscriber = Subscriber(email="ada@example.org", keywords="robot*", token_nonce="n",
                                created_at=NOW, delivery="feed")
        session.add(subscriber)
        session.flush()
        assert export_data(subscriber, now=NOW)["delivery"] == "feed"
