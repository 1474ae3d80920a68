"""SPEC §7 under SMTP faults: 4xx and lost connections retried, 5xx kept, bad addresses suspended.

Each case queues mail, lets the server misbehave once, delivers, moves the clock past the backoff
and delivers again: every deliverable message arrives exactly once, the others are `failed` with
the server's reply.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from digest.mail.outbox import deliver, queue_email
from digest.models import OutboxMessage, Subscriber

ADA, BOB = "ada@example.com", "bob@example.com"


def queue(services, clock, to_addr: str, key: str, subscriber_id: int | None = None) -> None:
    with services.sessions.begin() as session:
        queue_email(session, services.settings, kind="digest" if subscriber_id else "notice",
                    dedupe_key=key, to_addr=to_addr, subject=key, text="hi\n", html=None,
                    now=clock(), subscriber_id=subscriber_id)


def outbox(sessions) -> dict[str, OutboxMessage]:
    with sessions() as session:
        return {row.to_addr: row for row in session.scalars(select(OutboxMessage))}


def add_subscriber(sessions, email: str) -> int:
    with sessions.begin() as session:
        subscriber = Subscriber(email=email, status="confirmed", token_nonce="n0")
        session.add(subscriber)
        session.flush()
        return subscriber.id


def two_messages_with(fault: Callable, smtp_services, smtp_server, clock):
    """Queue one message each to ADA and BOB, deliver under `fault`, then again 2 hours later."""
    queue(smtp_services, clock, ADA, "m:ada")
    queue(smtp_services, clock, BOB, "m:bob")
    fault(smtp_server)
    first = deliver(smtp_services, worker_id="w1", clock=clock)
    after_first = outbox(smtp_services.sessions)
    if not smtp_server.running:
        smtp_server.start()
    clock.advance(hours=2)
    second = deliver(smtp_services, worker_id="w1", clock=clock)
    return first, after_first, second, outbox(smtp_services.sessions)


TEMPORARY = {
    "421 at connect": (lambda s: s.fail("connect", "421 4.3.2 too busy"),
                       {ADA: "421 4.3.2 too busy (connect) from", BOB: "421 4.3.2 too busy"}),
    "451 at RCPT": (lambda s: s.fail("RCPT", "451 4.3.0 mailbox busy", recipient=ADA),
                    {ADA: "451 4.3.0 mailbox busy (RCPT)"}),
    "451 at DATA": (lambda s: s.fail("DATA", "451 4.3.0 local error", times=2),
                    {ADA: "451 4.3.0 local error (DATA)", BOB: "451 4.3.0 local error (DATA)"}),
    "dropped after DATA": (lambda s: s.drop_after_data(),
                           {ADA: "connection lost while sending"}),
    "down, then back": (lambda s: s.stop(),
                        {ADA: "cannot reach the SMTP server", BOB: "cannot reach the SMTP server"}),
}


@pytest.mark.parametrize("case", list(TEMPORARY))
def test_temporary_failures_are_deferred_then_delivered_exactly_once(
    case, smtp_services, smtp_server, clock
) -> None:
    fault, errors = TEMPORARY[case]
    first, after_first, second, final = two_messages_with(fault, smtp_services, smtp_server, clock)
    for addr, error in errors.items():
        row = after_first[addr]
        assert row.state == "deferred"
        assert row.last_error.startswith(error)
        assert row.next_attempt_at > row.first_attempt_at
    assert (first.deferred, first.sent, first.failed) == (len(errors), 2 - len(errors), 0)
    assert (second.sent, second.deferred) == (len(errors), 0)
    assert smtp_server.recipients() == {ADA: 1, BOB: 1}
    assert len(set(smtp_server.message_ids())) == 2
    assert {row.state for row in final.values()} == {"sent"}
    assert final[ADA].attempts == (2 if ADA in errors else 1)


def test_550_at_rcpt_fails_and_is_not_retried(smtp_services, smtp_server, clock) -> None:
    first, _, second, final = two_messages_with(
        lambda s: s.fail("RCPT", "550 5.1.1 no such user", recipient=ADA, times=None),
        smtp_services, smtp_server, clock,
    )
    assert (first.sent, first.failed, second.total) == (1, 1, 0)
    assert (final[ADA].state, final[ADA].last_error) == ("failed", "550 5.1.1 no such user (RCPT)")
    assert final[ADA].attempts == 1
    assert smtp_server.recipients() == {BOB: 1}


def test_a_partial_refusal_fails_only_the_refused_recipients_row(
    smtp_services, smtp_server, clock
) -> None:
    for n in range(3):
        queue(smtp_services, clock, f"ok{n}@example.com", f"ok:{n}")
    queue(smtp_services, clock, BOB, "m:bob")
    smtp_server.fail("RCPT", "550 5.1.1 unknown user", recipient=BOB, times=None)
    stats = deliver(smtp_services, worker_id="w1", clock=clock)
    rows = outbox(smtp_services.sessions)
    assert (stats.sent, stats.failed) == (3, 1)
    assert rows[BOB].state == "failed"
    assert rows[BOB].last_error == "550 5.1.1 unknown user (RCPT)"
    assert all(rows[f"ok{n}@example.com"].state == "sent" for n in range(3))
    assert BOB not in smtp_server.recipients()


def test_4xx_is_retried_for_20_hours_then_given_up(smtp_services, smtp_server, clock) -> None:
    queue(smtp_services, clock, ADA, "m:ada")
    smtp_server.fail("RCPT", "452 4.2.2 mailbox full", recipient=ADA, times=None)
    started = clock()
    tries = 0
    while outbox(smtp_services.sessions)[ADA].state != "failed":
        tries += deliver(smtp_services, worker_id="w1", clock=clock).total
        assert clock() - started <= timedelta(hours=21)
        clock.advance(minutes=30)
    row = outbox(smtp_services.sessions)[ADA]
    assert row.last_error == "gave up after 20 hours: 452 4.2.2 mailbox full (RCPT)"
    assert 20 < tries < 40  # backoff grew to an hour rather than retrying every half hour
    assert row.attempts == tries


def test_three_hard_failures_in_a_row_suspend_the_subscriber(
    smtp_services, smtp_server, clock
) -> None:
    ada = add_subscriber(smtp_services.sessions, ADA)
    smtp_server.fail("RCPT", "550 5.1.1 gone", recipient=ADA, times=None)
    for n in range(3):
        queue(smtp_services, clock, ADA, f"digest:{n}", subscriber_id=ada)
        assert deliver(smtp_services, worker_id="w1", clock=clock).failed == 1
        clock.advance(days=1)
    with smtp_services.sessions() as session:
        subscriber = session.get(Subscriber, ada)
        assert (subscriber.status, subscriber.hard_failures) == ("suspended", 3)
        assert subscriber.suspended_at is not None
    queue(smtp_services, clock, ADA, "digest:later", subscriber_id=ada)
    assert deliver(smtp_services, worker_id="w1", clock=clock).cancelled == 1


def test_a_delivery_in_between_resets_the_hard_failure_count(
    smtp_services, smtp_server, clock
) -> None:
    ada = add_subscriber(smtp_services.sessions, ADA)
    for n, refused in enumerate((True, True, False, True, True)):
        if refused:
            smtp_server.fail("RCPT", "550 5.1.1 gone", recipient=ADA)
        queue(smtp_services, clock, ADA, f"digest:{n}", subscriber_id=ada)
        deliver(smtp_services, worker_id="w1", clock=clock)
    with smtp_services.sessions() as session:
        subscriber = session.get(Subscriber, ada)
        assert (subscriber.status, subscriber.hard_failures) == ("confirmed", 2)


def test_a_refused_sender_is_retried_and_never_counts_against_the_subscriber(
    smtp_services, smtp_server, clock
) -> None:
    ada = add_subscriber(smtp_services.sessions, ADA)
    queue(smtp_services, clock, ADA, "digest:1", subscriber_id=ada)
    smtp_server.fail("MAIL", "553 5.7.1 sender not allowed")
    # Our configuration is at fault (DIGEST_MAIL_FROM): the digest waits for the fix.
    assert deliver(smtp_services, worker_id="w1", clock=clock).deferred == 1
    clock.advance(hours=1)
    assert deliver(smtp_services, worker_id="w1", clock=clock, retry_now=True).sent == 1
    with smtp_services.sessions() as session:
        assert session.get(Subscriber, ada).hard_failures == 0
