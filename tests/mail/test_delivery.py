"""Delivery of a claimed batch: every outcome is stored before the next message goes out."""

from __future__ import annotations

from sqlalchemy import event, select

from digest.mail.mailer import FileSender
from digest.mail.outbox import deliver, queue_email
from digest.models import OutboxMessage, Subscriber


def queue_digests(services, clock, count: int) -> None:
    with services.sessions.begin() as session:
        for n in range(count):
            subscriber = Subscriber(email=f"r{n}@example.com", status="confirmed",
                                    token_nonce="n0", keywords="x")
            session.add(subscriber)
            session.flush()
            queue_email(
                session, services.settings, kind="digest", dedupe_key=f"digest:{n}",
                to_addr=subscriber.email, subject="papers", text="hello\n", html="<p>hello</p>",
                now=clock(), subscriber_id=subscriber.id,
            )


def states(services) -> dict[str, tuple[str, int]]:
    """Each row's (state, attempts) as another connection sees it: committed data only."""
    with services.sessions() as session:
        rows = session.execute(select(OutboxMessage.to_addr, OutboxMessage.state,
                                      OutboxMessage.attempts))
        return {to_addr: (state, attempts) for to_addr, state, attempts in rows}


def test_every_earlier_outcome_is_committed_before_the_next_send(services, clock) -> None:
    queue_digests(services, clock, 5)
    seen: list[tuple[str, dict[str, tuple[str, int]]]] = []

    class Watching(FileSender):
        def send(self, from_addr: str, to_addr: str, message: bytes) -> None:
            seen.append((to_addr, states(services)))
            super().send(from_addr, to_addr, message)

    sender = Watching(services.settings.mail_dir)
    assert deliver(services, worker_id="w1", clock=clock, sender=sender).sent == 5
    assert len(seen) == 5
    for done, (current, snapshot) in enumerate(seen):
        # What a SIGKILL now would leave: the earlier sends recorded, this one counted as tried.
        assert sorted(state for state, _ in snapshot.values()) == (
            ["sending"] * (5 - done) + ["sent"] * done
        )
        assert snapshot[current] == ("sending", 1)


def test_a_message_costs_one_transaction_after_its_batch_is_claimed(services, clock) -> None:
    queue_digests(services, clock, 10)
    commits: list[object] = []

    def count(connection: object) -> None:
        commits.append(connection)

    event.listen(services.engine, "commit", count)
    try:
        stats = deliver(services, worker_id="w1", clock=clock, batch_size=5)
    finally:
        event.remove(services.engine, "commit", count)
    assert stats.sent == 10
    # Per batch of 5: the claim, the first re-check, four record-and-re-check steps, the last
    # record; then the claim that finds nothing left.
    assert len(commits) == 2 * (1 + 1 + 4 + 1) + 1
