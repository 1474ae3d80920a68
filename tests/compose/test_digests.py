"""Composing digests: who is due, which papers each digest holds, and that none is held twice."""

from __future__ import annotations

import dataclasses
import logging
import threading
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default

import conftest
import pytest
from sqlalchemy import event, func, select, update

from digest.compose.digests import Composer, ComposeReport, compose_due
from digest.feeds.common import PaperIn
from digest.models import Digest, OutboxMessage, Paper, Subscriber
from digest.papers.store import store_papers


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


MON, TUE, WED, THU = utc(2026, 6, 1), utc(2026, 6, 2), utc(2026, 6, 3), utc(2026, 6, 4)
MON_9 = MON.replace(hour=9)


def paper(key: str, title: str, abstract: str = "An abstract.") -> PaperIn:
    return PaperIn(
        key=key, arxiv_id=key, version=1, title=title, abstract=abstract, authors=("Ada L.",),
        categories=("cs.RO",), url=f"https://arxiv.org/abs/{key}", pdf_url=None, code_url=None,
        project_url=None, upvotes=None, published_at=None, updated_at=None, announce_type="new",
    )  # fmt: skip


def store(services, now: datetime, *papers: PaperIn) -> None:
    with services.sessions.begin() as session:
        store_papers(session, list(papers), source="test", now=now)


def subscribe(services, email: str, keywords: str, confirmed_at: datetime = MON_9, **fields) -> int:
    fields.setdefault("status", "confirmed")
    with services.sessions.begin() as session:
        subscriber = Subscriber(
            email=email, keywords=keywords, token_nonce="n0", confirmed_at=confirmed_at,
            created_at=confirmed_at, **fields,
        )  # fmt: skip
        session.add(subscriber)
        session.flush()
        return subscriber.id


def change(services, subscriber_id: int, **values) -> None:
    with services.sessions.begin() as session:
        session.execute(update(Subscriber).where(Subscriber.id == subscriber_id).values(**values))


def digests_of(services, subscriber_id: int) -> list[list[str]]:
    """Each digest's paper keys, in rank order, oldest digest first."""
    with services.sessions() as session:
        found = session.scalars(
            select(Digest).where(Digest.subscriber_id == subscriber_id).order_by(Digest.id)
        )
        keys = {row[0]: row[1] for row in session.execute(select(Paper.id, Paper.key))}
        return [[keys[paper_id] for paper_id in digest.paper_id_list] for digest in found]


def count(services, model) -> int:
    with services.sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_first_digest_holds_the_day_before_its_send_time(services) -> None:
    who = subscribe(services, "ada@example.org", "robot*", confirmed_at=MON.replace(hour=9))
    store(services, MON.replace(hour=6), paper("2606.00001", "Robots before the window"))
    store(services, MON.replace(hour=10), paper("2606.00002", "Robotic hands"))
    store(services, TUE.replace(hour=7), paper("2606.00003", "Robot arms at the very end"))
    store(services, TUE.replace(hour=7, minute=1), paper("2606.00004", "Robots just after"))

    report = compose_due(services, now=TUE.replace(hour=7, minute=2))

    assert (report.composed, report.empty) == (1, 0)
    assert digests_of(services, who) == [["2606.00002", "2606.00003"]]
    compose_due(services, now=WED.replace(hour=7))
    assert digests_of(services, who)[1] == ["2606.00004"]


def test_nothing_is_composed_before_the_send_time(services) -> None:
    who = subscribe(services, "ada@example.org", "robot*", confirmed_at=MON.replace(hour=9))
    store(services, MON.replace(hour=10), paper("2606.00002", "Robotic hands"))
    report = compose_due(services, now=TUE.replace(hour=6, minute=59))
    assert (report.composed, report.empty) == (0, 0)
    with services.sessions() as session:
        assert session.get(Subscriber, who).next_digest_at == TUE.replace(hour=7)


def test_send_time_is_local_to_the_subscriber(services) -> None:
    who = subscribe(
        services, "ada@example.org", "robot*", timezone="America/New_York", send_time="07:00",
        confirmed_at=MON.replace(hour=12),  # 08:00 EDT, just after Monday's send time
    )  # fmt: skip
    store(services, MON.replace(hour=13), paper("2606.00002", "Robotic hands"))
    assert compose_due(services, now=TUE.replace(hour=10, minute=59)).composed == 0
    assert compose_due(services, now=TUE.replace(hour=11)).composed == 1  # 07:00 EDT
    assert digests_of(services, who) == [["2606.00002"]]


def test_weekly_digest_covers_the_week_before_it(services) -> None:
    who = subscribe(
        services, "ada@example.org", "robot*", frequency="weekly", weekday=3,
        confirmed_at=TUE.replace(hour=9),
    )  # fmt: skip
    store(services, utc(2026, 5, 28, 8), paper("2605.00001", "Robots a week ago"))
    store(services, MON, paper("2606.00001", "Robots on Monday"))
    assert compose_due(services, now=WED.replace(hour=7)).composed == 0
    assert compose_due(services, now=THU.replace(hour=7)).composed == 1
    assert sorted(digests_of(services, who)[0]) == ["2605.00001", "2606.00001"]


def test_no_digest_when_nothing_matched_but_the_schedule_moves_on(services) -> None:
    who = subscribe(services, "ada@example.org", "juggling", confirmed_at=MON.replace(hour=9))
    store(services, MON.replace(hour=10), paper("2606.00002", "Robotic hands"))
    report = compose_due(services, now=TUE.replace(hour=7))
    assert (report.composed, report.empty) == (0, 1)
    assert count(services, Digest) == count(services, OutboxMessage) == 0
    with services.sessions() as session:
        subscriber = session.get(Subscriber, who)
        assert subscriber.last_digest_at == TUE.replace(hour=7)
        assert subscriber.next_digest_at == WED.replace(hour=7)


def test_composing_twice_at_the_same_moment_creates_nothing_twice(services) -> None:
    subscribe(services, "ada@example.org", "robot*")
    store(services, MON.replace(hour=10), paper("2606.00002", "Robotic hands"))
    first = compose_due(services, now=TUE.replace(hour=7, minute=5))
    second = compose_due(services, now=TUE.replace(hour=7, minute=5))
    assert (first.composed, second.composed, second.empty) == (1, 0, 0)
    assert count(services, Digest) == count(services, OutboxMessage) == 1


def test_the_ledger_never_gives_a_paper_twice(services) -> None:
    who = subscribe(services, "ada@example.org", "robot*")
    store(services, MON.replace(hour=10), paper("2606.00002", "Robotic hands"))
    compose_due(services, now=TUE.replace(hour=7))
    store(services, TUE.replace(hour=9), paper("2606.00003", "Robot legs"))
    # Someone winds the subscriber's window back: the ledger still holds what they were given.
    change(services, who, last_digest_at=None, next_digest_at=WED.replace(hour=7))
    compose_due(services, now=WED.replace(hour=7))
    assert digests_of(services, who) == [["2606.00002"], ["2606.00003"]]


def test_a_paused_subscriber_gets_nothing_and_the_papers_wait(services) -> None:
    who = subscribe(services, "ada@example.org", "robot*")
    store(services, MON.replace(hour=10), paper("2606.00002", "Robotic hands"))
    compose_due(services, now=TUE.replace(hour=7))
    change(services, who, paused=True)
    store(services, TUE.replace(hour=9), paper("2606.00003", "Robot legs"))
    store(services, WED.replace(hour=9), paper("2606.00004", "Robot eyes"))
    assert compose_due(services, now=WED.replace(hour=7)).composed == 0
    assert compose_due(services, now=THU.replace(hour=7)).composed == 0
    # Resuming clears the planned digest (the web does so); the next send time gets it all.
    change(services, who, paused=False, next_digest_at=None)
    assert compose_due(services, now=THU.replace(hour=12)).composed == 0
    assert compose_due(services, now=utc(2026, 6, 5, 7)).composed == 1
    assert sorted(digests_of(services, who)[1]) == ["2606.00003", "2606.00004"]


def test_a_profile_change_applies_at_the_next_digest(services) -> None:
    who = subscribe(services, "ada@example.org", "robot*")
    store(
        services, MON.replace(hour=10),
        paper("2606.00002", "Robotic hands"), paper("2606.00003", "Juggling balls"),
    )  # fmt: skip
    change(services, who, keywords="juggling")
    compose_due(services, now=TUE.replace(hour=7))
    assert digests_of(services, who) == [["2606.00003"]]
    with services.sessions() as session:
        assert session.scalars(select(Digest.keywords)).one() == "juggling"


def test_a_digest_missed_for_days_is_one_digest(services) -> None:
    who = subscribe(services, "ada@example.org", "robot*")
    for day in range(1, 5):
        store(services, utc(2026, 6, day, 12), paper(f"2606.0000{day}", f"Robots, day {day}"))
    report = compose_due(services, now=utc(2026, 6, 5, 9))  # the server was down since Monday
    assert report.composed == 1
    assert sorted(digests_of(services, who)[0]) == [f"2606.0000{day}" for day in range(1, 5)]
    with services.sessions() as session:
        assert session.get(Subscriber, who).next_digest_at == utc(2026, 6, 6, 7)


def test_only_confirmed_subscribers_get_digests(services) -> None:
    subscribe(services, "pending@example.org", "robot*", status="pending")
    subscribe(services, "gone@example.org", "robot*", status="unsubscribed")
    subscribe(services, "bounced@example.org", "robot*", status="suspended")
    store(services, MON.replace(hour=10), paper("2606.00002", "Robotic hands"))
    report = compose_due(services, now=THU)
    assert (report.composed, report.empty) == (0, 0)


def test_a_bad_stored_profile_skips_that_subscriber_only(services, caplog) -> None:
    bad = subscribe(services, "bad@example.org", '"unclosed')
    good = subscribe(services, "good@example.org", "robot*")
    store(services, MON.replace(hour=10), paper("2606.00002", "Robotic hands"))
    with caplog.at_level(logging.WARNING, logger="digest.compose.digests"):
        report = compose_due(services, now=TUE.replace(hour=7))
    assert (report.composed, report.skipped) == (1, 1)
    assert f"subscriber {bad} skipped" in caplog.text
    assert digests_of(services, good) == [["2606.00002"]]
    with services.sessions() as session:
        subscriber = session.get(Subscriber, bad)
        assert subscriber.last_digest_at is None  # their papers wait for a fixed profile
        assert subscriber.next_digest_at == WED.replace(hour=7)


def test_a_stored_address_that_cannot_be_a_to_header_skips_that_subscriber_only(
    services, caplog
) -> None:
    # Accepted before encoded words were refused; building its message raises HeaderInjection.
    bad = subscribe(services, "=?utf-8?q?evil=40example.net=2c?=@example.org", "robot*")
    good = subscribe(services, "good@example.org", "robot*")
    store(services, MON.replace(hour=10), paper("2606.00002", "Robotic hands"))
    with caplog.at_level(logging.WARNING, logger="digest.compose.digests"):
        report = compose_due(services, now=TUE.replace(hour=7))
    assert (report.composed, report.skipped) == (1, 1)
    assert f"subscriber {bad} skipped" in caplog.text
    assert digests_of(services, good) == [["2606.00002"]]
    assert digests_of(services, bad) == []


def test_the_email_shows_at_most_max_papers_and_the_digest_holds_all(services) -> None:
    services = dataclasses.replace(
        services, settings=dataclasses.replace(services.settings, max_papers=2)
    )
    who = subscribe(services, "ada@example.org", "robot*")
    store(services, MON.replace(hour=10), *(paper(f"2606.0000{n}", f"Robot {n}") for n in range(5)))
    compose_due(services, now=TUE.replace(hour=7))
    assert len(digests_of(services, who)[0]) == 5
    with services.sessions() as session:
        message = session.scalars(select(OutboxMessage)).one()
        digest = session.scalars(select(Digest)).one()
    assert (message.kind, message.digest_id, message.subscriber_id) == ("digest", digest.id, who)
    assert message.dedupe_key == f"digest:{who}:{TUE.replace(hour=7).isoformat()}"
    email = message_from_bytes(message.message, policy=default)
    text = email.get_body(("plain",)).get_content()
    assert sum(f"https://arxiv.org/abs/2606.0000{n}" in text for n in range(5)) == 2
    assert "http://127.0.0.1:8000/digest/" in text  # the rest is on the web page
    assert email["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/unsubscribe/")


def test_force_composes_for_every_confirmed_unpaused_subscriber_now(services) -> None:
    ada = subscribe(services, "ada@example.org", "robot*")
    bob = subscribe(services, "bob@example.org", "robot*", frequency="weekly", weekday=6)
    subscribe(services, "cy@example.org", "robot*", paused=True)
    subscribe(services, "dee@example.org", "robot*", status="pending")
    store(services, MON.replace(hour=10), paper("2606.00002", "Robotic hands"))
    now = MON.replace(hour=15, minute=30)
    report = compose_due(services, now=now, force=True)
    assert report.composed == 2
    assert digests_of(services, ada) == digests_of(services, bob) == [["2606.00002"]]
    with services.sessions() as session:
        assert set(session.scalars(select(Digest.scheduled_for))) == {now}
    # The regular schedule goes on, with only what came after.
    store(services, MON.replace(hour=16), paper("2606.00003", "Robot legs"))
    compose_due(services, now=TUE.replace(hour=7))
    assert digests_of(services, ada) == [["2606.00002"], ["2606.00003"]]


def test_dry_run_composes_but_stores_nothing(services) -> None:
    who = subscribe(services, "ada@example.org", "robot*")
    subscribe(services, "bob@example.org", "juggling")
    store(services, MON.replace(hour=10), paper("2606.00002", "Robotic hands"))
    report = compose_due(services, now=TUE.replace(hour=7), dry_run=True)
    assert (report.composed, report.empty) == (1, 1)
    for model in (Digest, OutboxMessage):
        assert count(services, model) == 0
    with services.sessions() as session:
        assert session.get(Subscriber, who).next_digest_at is None
    assert compose_due(services, now=TUE.replace(hour=7)).composed == 1


def test_batches_cover_every_subscriber_and_report_progress(services) -> None:
    ids = [subscribe(services, f"s{n}@example.org", "robot*") for n in range(7)]
    store(services, MON.replace(hour=10), paper("2606.00002", "Robotic hands"))
    seen: list[tuple[int, int]] = []
    report = compose_due(
        services, now=TUE.replace(hour=7), batch_size=3, progress=lambda *a: seen.append(a)
    )
    assert report.composed == 7
    assert seen == [(3, 7), (6, 7), (7, 7)]
    assert all(digests_of(services, who) == [["2606.00002"]] for who in ids)
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Paper)) == 1


def test_a_batch_is_written_in_a_fixed_number_of_statements(services) -> None:
    store(services, MON.replace(hour=10), *(paper(f"2606.0000{n}", f"Robot {n}") for n in range(3)))

    def statements_to_compose(subscribers: int) -> int:
        for n in range(subscribers):
            subscribe(services, f"s{subscribers}-{n}@example.org", "robot*")
        seen: list[str] = []

        def count(conn, cursor, statement, *args) -> None:
            seen.append(statement)

        event.listen(services.engine, "before_cursor_execute", count)
        try:
            report = compose_due(services, now=TUE.replace(hour=7))
        finally:
            event.remove(services.engine, "before_cursor_execute", count)
        assert report.composed == subscribers
        return len(seen)

    assert statements_to_compose(40) == statements_to_compose(4)


def test_a_digest_composed_elsewhere_skips_that_subscriber_only(services, caplog) -> None:
    ids = [subscribe(services, f"s{n}@example.org", "robot*") for n in range(5)]
    store(services, MON.replace(hour=10), paper("2606.00002", "Robotic hands"))
    now = TUE.replace(hour=7)
    compose_due(services, now=MON.replace(hour=12))  # plans everyone's next digest: Tuesday 07:00
    with services.sessions.begin() as session:  # another planner stored one digest but no claim
        session.add(
            Digest(
                subscriber_id=ids[2], scheduled_for=now, window_start=MON, window_end=now,
                keywords="robot*", created_at=now,
            )
        )  # fmt: skip
    with caplog.at_level(logging.INFO, logger="digest.compose.digests"):
        report = compose_due(services, now=now)
    assert (report.composed, report.skipped) == (4, 1)
    assert f"digest for subscriber {ids[2]} was composed elsewhere" in caplog.text
    given = [digests_of(services, who) for who in ids]
    assert given == [[["2606.00002"]]] * 2 + [[[]]] + [[["2606.00002"]]] * 2  # [] the other's
    assert count(services, OutboxMessage) == 4
    with services.sessions() as session:  # the skipped subscriber's slot is left to a later run
        assert session.get(Subscriber, ids[2]).next_digest_at == now


def test_a_profile_changed_after_its_group_was_matched_is_matched_again(services) -> None:
    who = subscribe(services, "ada@example.org", "robot*")
    store(
        services, MON.replace(hour=10),
        paper("2606.00002", "Robotic hands"), paper("2606.00003", "Juggling balls"),
    )  # fmt: skip
    now = TUE.replace(hour=7)
    compose_due(services, now=MON.replace(hour=12))
    composer = Composer(services, now=now)
    with services.sessions.begin() as session:
        ids, group = composer.match_group(session, 0, 100)
    assert ids == [who] and group is not None
    change(services, who, keywords="juggling")  # between matching and composing
    report = ComposeReport()
    with services.sessions.begin() as session:
        composer.compose_batch(session, composer.lock(session, ids), report, group)
    assert report.composed == 1
    assert digests_of(services, who) == [["2606.00003"]]


def test_digest_order_is_title_matches_then_more_terms_then_upvotes(services) -> None:
    who = subscribe(services, "ada@example.org", "robot*\ngrasp*")
    store(
        services, MON.replace(hour=10),
        paper("2606.00001", "A survey", "Robots that grasp."),
        paper("2606.00002", "Robot arms", "Arms."),
        paper("2606.00003", "Grasping robots", "Hands."),
        paper("2606.00004", "Notes", "On robots."),
    )  # fmt: skip
    compose_due(services, now=TUE.replace(hour=7))
    assert digests_of(services, who) == [["2606.00003", "2606.00002", "2606.00001", "2606.00004"]]


# --- PostgreSQL: planners racing --------------------------------------------------------------


def test_racing_planners_compose_each_digest_once(services) -> None:
    if services.engine.dialect.name != "postgresql":
        if conftest.postgres_url() is None:
            conftest.require("postgres", "racing planners need PostgreSQL")
        pytest.skip("runs in the PostgreSQL pass (DIGEST_TEST_DATABASE_URL)")
    ids = [subscribe(services, f"r{n}@example.org", "robot*") for n in range(60)]
    store(services, MON.replace(hour=10), paper("2606.00002", "Robotic hands"))
    now = TUE.replace(hour=7)
    reports, errors = [], []
    start = threading.Barrier(4)

    def planner() -> None:
        start.wait()
        try:
            reports.append(compose_due(services, now=now, batch_size=7))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=planner) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(report.composed for report in reports) == len(ids)
    with services.sessions() as session:
        per_subscriber = session.execute(
            select(Digest.subscriber_id, func.count()).group_by(Digest.subscriber_id)
        ).all()
    assert sorted(per_subscriber) == [(who, 1) for who in ids]
    assert count(services, OutboxMessage) == len(ids)
