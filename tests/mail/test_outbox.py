"""The outbox: stored before sent, sent once, cancelled after an unsubscribe, claims that lapse."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from digest.cli import main
from digest.mail import delivery
from digest.mail.mailer import FileSender
from digest.mail.outbox import (
    KEEP_ROWS_AT_LEAST,
    cancel_for_subscriber,
    claim,
    deliver,
    enqueue,
    purge_old_messages,
    queue_email,
    recover_stale_claims,
)
from digest.models import OutboxMessage, Subscriber
from digest.subscribers.subscriptions import links_sent_recently


def add_subscriber(sessions, email: str, status: str = "confirmed", **fields) -> int:
    with sessions.begin() as session:
        subscriber = Subscriber(email=email, status=status, token_nonce="n0", keywords="x",
                                **fields)
        session.add(subscriber)
        session.flush()
        return subscriber.id


def queue(services, clock, to_addr: str, key: str, **fields) -> int:
    with services.sessions.begin() as session:
        row = queue_email(
            session, services.settings, kind=fields.pop("kind", "notice"), dedupe_key=key,
            to_addr=to_addr, subject=f"about {key}", text="hello\n", html="<p>hello</p>",
            now=clock(), unsubscribe_url="https://digest.example.org/unsubscribe/t", **fields,
        )
        assert row is not None
        return row.id


def rows(sessions) -> dict[str, OutboxMessage]:
    with sessions() as session:
        return {r.dedupe_key: r for r in session.scalars(select(OutboxMessage))}


def test_enqueue_stores_the_message_queued_and_due_now(services, clock) -> None:
    queue(services, clock, "ada@example.com", "notice:1")
    row = rows(services.sessions)["notice:1"]
    assert (row.state, row.attempts, row.next_attempt_at) == ("queued", 0, clock())
    assert b"To: ada@example.com" in row.message
    assert row.subject == "about notice:1"


def test_a_second_enqueue_with_the_same_dedupe_key_stores_nothing(services, clock) -> None:
    queue(services, clock, "ada@example.com", "digest:1")
    with services.sessions.begin() as session:
        again = enqueue(session, kind="digest", dedupe_key="digest:1", to_addr="x@example.com",
                        subject="other", message=b"other", now=clock())
    assert again is None
    assert rows(services.sessions)["digest:1"].to_addr == "ada@example.com"


def test_concurrent_enqueues_of_one_message_store_it_once(services, clock) -> None:
    start = threading.Barrier(4)
    results: list[bool] = []

    def enqueue_once() -> None:
        start.wait()
        with services.sessions.begin() as session:
            row = enqueue(session, kind="digest", dedupe_key="digest:race", to_addr="a@example.com",
                          subject="s", message=b"m", now=clock())
            results.append(row is not None)

    threads = [threading.Thread(target=enqueue_once) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    assert len(rows(services.sessions)) == 1


def test_deliver_sends_each_due_message_once_and_records_it(smtp_services, smtp_server,
                                                            clock) -> None:
    for n in range(3):
        queue(smtp_services, clock, f"r{n}@example.com", f"notice:{n}")
    stats = deliver(smtp_services, worker_id="w1", clock=clock)
    again = deliver(smtp_services, worker_id="w1", clock=clock)
    assert (stats.sent, stats.deferred, stats.failed) == (3, 0, 0)
    assert again.total == 0
    assert sorted(smtp_server.recipients()) == [f"r{n}@example.com" for n in range(3)]
    for row in rows(smtp_services.sessions).values():
        assert (row.state, row.attempts, row.sent_at, row.last_error) == ("sent", 1, clock(), None)
    assert smtp_server.connections == 1


def test_without_smtp_delivery_writes_eml_files_to_instance_mail(services, clock) -> None:
    queue(services, clock, "ada@example.com", "notice:1")
    assert deliver(services, worker_id="w1", clock=clock).sent == 1
    files = list((services.settings.instance_path / "mail").glob("*.eml"))
    assert len(files) == 1
    assert files[0].read_bytes() == rows(services.sessions)["notice:1"].message


def test_deferred_mail_waits_for_its_time_unless_retry_now(services, clock) -> None:
    queue(services, clock, "ada@example.com", "notice:1")
    with services.sessions.begin() as session:
        session.execute(update(OutboxMessage).values(
            state="deferred", next_attempt_at=clock() + timedelta(minutes=30)))
    assert deliver(services, worker_id="w1", clock=clock).total == 0
    assert deliver(services, worker_id="w1", clock=clock, retry_now=True).sent == 1


def test_unsubscribed_subscribers_queued_mail_is_cancelled_not_sent(
    smtp_services, smtp_server, clock
) -> None:
    ada = add_subscriber(smtp_services.sessions, "ada@example.com")
    queue(smtp_services, clock, "ada@example.com", "digest:1", kind="digest", subscriber_id=ada)
    queue(smtp_services, clock, "ada@example.com", "notice:1", subscriber_id=ada)
    with smtp_services.sessions.begin() as session:
        session.get(Subscriber, ada).status = "unsubscribed"
        session.get(Subscriber, ada).unsubscribed_at = clock.advance(seconds=1)
    stats = deliver(smtp_services, worker_id="w1", clock=clock)
    assert (stats.sent, stats.cancelled) == (0, 2)
    assert smtp_server.messages == []
    assert {r.state for r in rows(smtp_services.sessions).values()} == {"cancelled"}


def test_an_unsubscribe_during_a_batch_stops_the_rest_of_that_batch(services, clock) -> None:
    ada = add_subscriber(services.sessions, "ada@example.com")
    for n in range(3):
        queue(services, clock, "ada@example.com", f"digest:{n}", kind="digest", subscriber_id=ada)

    class UnsubscribeAfterOne(FileSender):
        def send(self, from_addr: str, to_addr: str, message: bytes) -> None:
            super().send(from_addr, to_addr, message)
            with services.sessions.begin() as session:  # the reader clicks while we send
                session.get(Subscriber, ada).status = "unsubscribed"

    sender = UnsubscribeAfterOne(services.settings.mail_dir)
    stats = deliver(services, worker_id="w1", clock=clock, sender=sender)
    assert (stats.sent, stats.cancelled) == (1, 2)


def test_a_confirmation_asked_for_after_unsubscribing_is_sent(services, clock) -> None:
    ada = add_subscriber(services.sessions, "ada@example.com", status="unsubscribed",
                         unsubscribed_at=clock())
    clock.advance(days=2)
    queue(services, clock, "ada@example.com", "confirm:1", kind="confirm", subscriber_id=ada)
    assert deliver(services, worker_id="w1", clock=clock).sent == 1


@pytest.mark.parametrize("status", ["suspended", "pending", "unsubscribed"])
def test_digests_go_only_to_confirmed_subscribers(services, clock, status) -> None:
    ada = add_subscriber(services.sessions, "ada@example.com", status=status)
    queue(services, clock, "ada@example.com", "digest:1", kind="digest", subscriber_id=ada)
    stats = deliver(services, worker_id="w1", clock=clock)
    assert (stats.sent, stats.cancelled) == (0, 1)
    assert rows(services.sessions)["digest:1"].last_error.startswith("cancelled")


def test_cancel_for_subscriber_cancels_everything_unsent(services, clock) -> None:
    ada = add_subscriber(services.sessions, "ada@example.com")
    bob = add_subscriber(services.sessions, "bob@example.com")
    for key, who in (("a1", ada), ("a2", ada), ("a3", ada), ("b1", bob)):
        queue(services, clock, "x@example.com", key, subscriber_id=who)
    with services.sessions.begin() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.dedupe_key == "a2")
                        .values(state="deferred"))
        session.execute(update(OutboxMessage).where(OutboxMessage.dedupe_key == "a3")
                        .values(state="sent"))
    with services.sessions.begin() as session:
        assert cancel_for_subscriber(session, ada, now=clock()) == 2
    states = {key: row.state for key, row in rows(services.sessions).items()}
    assert states == {"a1": "cancelled", "a2": "cancelled", "a3": "sent", "b1": "queued"}


def test_a_stale_claim_is_recovered_after_5_minutes_not_before(services, clock) -> None:
    queue(services, clock, "ada@example.com", "notice:1")
    with services.sessions.begin() as session:
        assert claim(session, worker_id="killed", now=clock(), limit=10) != []
    clock.advance(minutes=4, seconds=59)
    with services.sessions.begin() as session:
        assert recover_stale_claims(session, now=clock()) == 0
    assert deliver(services, worker_id="w2", clock=clock).total == 0
    clock.advance(seconds=2)
    assert deliver(services, worker_id="w2", clock=clock).sent == 1
    row = rows(services.sessions)["notice:1"]
    assert (row.state, row.claimed_by) == ("sent", "w2")


def test_a_worker_whose_claim_lapsed_leaves_the_row_to_its_new_owner(services, clock) -> None:
    row_id = queue(services, clock, "ada@example.com", "notice:1")
    with services.sessions.begin() as session:
        claim(session, worker_id="slow", now=clock(), limit=10)
    clock.advance(minutes=6)
    with services.sessions.begin() as session:
        recover_stale_claims(session, now=clock())
        claim(session, worker_id="fresh", now=clock(), limit=10)
    with services.sessions.begin() as session:
        assert delivery.prepare(session, row_id, worker_id="slow", now=clock()) is None
        assert isinstance(delivery.prepare(session, row_id, worker_id="fresh", now=clock()),
                          delivery.Job)


def test_max_messages_bounds_one_run(services, clock) -> None:
    for n in range(5):
        queue(services, clock, "ada@example.com", f"notice:{n}")
    assert deliver(services, worker_id="w1", clock=clock, max_messages=2, batch_size=1).sent == 2
    assert deliver(services, worker_id="w1", clock=clock).sent == 3


def test_a_stop_hands_the_unsent_rest_of_the_batch_back(services, clock) -> None:
    for n in range(4):
        queue(services, clock, "ada@example.com", f"notice:{n}")
    stop = threading.Event()

    class StopAfterOne(FileSender):
        def send(self, from_addr: str, to_addr: str, message: bytes) -> None:
            super().send(from_addr, to_addr, message)
            stop.set()

    sender = StopAfterOne(services.settings.mail_dir)
    stats = deliver(services, worker_id="w1", clock=clock, sender=sender, stop=stop)
    assert stats.sent == 1
    states = sorted(row.state for row in rows(services.sessions).values())
    assert states == ["queued", "queued", "queued", "sent"]
    assert deliver(services, worker_id="w2", clock=clock).sent == 3


def test_backoff_doubles_from_one_minute_to_at_most_an_hour() -> None:
    for attempts, base in ((1, 60), (2, 120), (3, 240), (6, 1920), (7, 3600), (30, 3600)):
        wait = delivery.backoff(attempts).total_seconds()
        assert 0.8 * base <= wait <= base


def test_cli_deliver_prints_the_summary_line(smtp_services, smtp_server, cli_env, clock) -> None:
    queue(smtp_services, clock, "ada@example.com", "notice:1")
    queue(smtp_services, clock, "bob@example.com", "notice:2")
    smtp_server.fail("RCPT", "451 4.3.0 mailbox busy", recipient="bob@example.com")
    env = {**cli_env, "DIGEST_SMTP_URL": smtp_server.url}
    result = CliRunner().invoke(main, ["deliver"], env=env)
    assert result.output == "sent 1, empty 0, deferred 1, failed 0\n"
    assert result.exit_code == 1
    retried = CliRunner().invoke(main, ["deliver", "--retry-now"], env=env)
    assert (retried.output, retried.exit_code) == ("sent 1, empty 0, deferred 0, failed 0\n", 0)
    nothing = CliRunner().invoke(main, ["deliver"], env=env)
    assert (nothing.output, nothing.exit_code) == ("sent 0, empty 0, deferred 0, failed 0\n", 0)


def test_cli_deliver_names_an_unmigrated_database(tmp_path) -> None:
    env = {"DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
           "DIGEST_SECRET_KEY": "k", "DIGEST_INSTANCE_PATH": str(tmp_path)}
    result = CliRunner().invoke(main, ["deliver"], env=env)
    assert result.exit_code == 1
    assert "digest db upgrade" in result.output


def test_smtp_services_fixture_points_at_the_test_server(smtp_services, smtp_server) -> None:
    smtp = smtp_services.settings.smtp
    assert dataclasses.astuple(smtp)[:2] == (smtp_server.host, smtp_server.port)


def finish(sessions, key: str, state: str, at) -> None:
    """Put a row in a final state at `at`, as delivery or an unsubscribe would have."""
    values = {"state": state, "claimed_at": at}
    if state == "sent":
        values["sent_at"] = at
    with sessions.begin() as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.dedupe_key == key)
                        .values(**values))


def purge(services, clock, **keep) -> tuple[int, int]:
    with services.sessions.begin() as session:
        return purge_old_messages(session, now=clock(), **keep)


def test_purge_clears_the_bodies_of_mail_finished_over_7_days_ago(services, clock) -> None:
    queue(services, clock, "ada@example.com", "notice:sent")
    assert deliver(services, worker_id="w1", clock=clock).sent == 1
    for key in ("failed", "cancelled", "queued", "deferred", "sending"):
        queue(services, clock, "ada@example.com", f"notice:{key}")
        finish(services.sessions, f"notice:{key}", key, clock())
    clock.advance(days=1)
    queue(services, clock, "ada@example.com", "notice:sent-a-day-later")
    finish(services.sessions, "notice:sent-a-day-later", "sent", clock())
    clock.advance(days=7)  # the first batch is 8 days old, the last row exactly 7

    assert purge(services, clock) == (3, 0)

    stored = rows(services.sessions)
    emptied = {key for key, row in stored.items() if row.message is None}
    assert emptied == {"notice:sent", "notice:failed", "notice:cancelled"}
    sent = stored["notice:sent"]  # the row itself stays: it is what stops a second send
    assert (sent.state, sent.sent_at, sent.attempts) == ("sent", clock() - timedelta(days=8), 1)
    assert purge(services, clock) == (0, 0)


def test_purge_deletes_transactional_rows_after_90_days_but_not_digests(services, clock) -> None:
    queue(services, clock, "ada@example.com", "notice:old")
    queue(services, clock, "ada@example.com", "confirm:old", kind="confirm")
    queue(services, clock, "ada@example.com", "digest:old", kind="digest")
    for key in ("notice:old", "confirm:old", "digest:old"):
        finish(services.sessions, key, "sent", clock())
    clock.advance(days=90, seconds=1)
    queue(services, clock, "ada@example.com", "notice:new")
    finish(services.sessions, "notice:new", "failed", clock())

    assert purge(services, clock) == (1, 2)

    stored = rows(services.sessions)
    assert sorted(stored) == ["digest:old", "notice:new"]
    assert stored["digest:old"].message is None and stored["notice:new"].message is not None


def test_purged_mail_is_never_sent_again_nor_queued_again(services, clock) -> None:
    queue(services, clock, "ada@example.com", "digest:1", kind="digest")
    assert deliver(services, worker_id="w1", clock=clock).sent == 1
    queue(services, clock, "ada@example.com", "notice:1")
    finish(services.sessions, "notice:1", "failed", clock())
    clock.advance(days=8)
    assert purge(services, clock) == (2, 0)

    assert deliver(services, worker_id="w1", clock=clock, retry_now=True).total == 0
    with services.sessions.begin() as session:
        again = enqueue(session, kind="digest", dedupe_key="digest:1", to_addr="ada@example.com",
                        subject="s", message=b"m", now=clock())
    assert again is None
    states = {key: (row.state, row.message) for key, row in rows(services.sessions).items()}
    assert states == {"digest:1": ("sent", None), "notice:1": ("failed", None)}
    assert len(list(services.settings.mail_dir.glob("*.eml"))) == 1


def test_purge_leaves_the_per_address_confirmation_cap_counting(services, clock) -> None:
    for n in range(3):
        queue(services, clock, "ada@example.com", f"confirm:{n}", kind="confirm")
        finish(services.sessions, f"confirm:{n}", "sent", clock())
    clock.advance(hours=23)
    purge(services, clock, keep_bodies=timedelta(0), keep_rows=KEEP_ROWS_AT_LEAST)
    with services.sessions() as session:
        assert links_sent_recently(session, "ada@example.com", now=clock()) == 3
    with pytest.raises(ValueError, match="keep_rows"):
        purge(services, clock, keep_rows=timedelta(hours=23))


def test_enqueue_many_stores_each_new_message_once_and_returns_their_ids(services, clock) -> None:
    from digest.mail.outbox import enqueue_many, outbox_row

    def rows(*keys: str) -> list[dict]:
        return [
            outbox_row(kind="notice", dedupe_key=key, to_addr=f"{key}@example.org",
                       subject="s", message=b"m", now=clock())
            for key in keys
        ]

    with services.sessions.begin() as session:
        first = enqueue_many(session, rows("a", "b"))
    with services.sessions.begin() as session:
        second = enqueue_many(session, rows("b", "c"))  # b is already queued: left alone
        assert enqueue_many(session, []) == []
    assert len(first) == 2 and len(second) == 1 and second[0] not in first
    with services.sessions() as session:
        stored = session.scalars(select(OutboxMessage.dedupe_key).order_by(OutboxMessage.id))
        assert list(stored) == ["a", "b", "c"]
