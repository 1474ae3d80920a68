"""Feed-only subscribers (delivery = feed): composed through the same path as everyone, their
digests and ledger stored, and no email queued or sent for them."""

from __future__ import annotations

from sqlalchemy import select
from test_digests import MON, TUE, WED, change, count, digests_of, paper, store, subscribe

from digest import pipeline
from digest.compose.digests import compose_due
from digest.mail import outbox
from digest.models import Digest, OutboxMessage, Subscriber


def test_a_feed_only_digest_is_stored_with_its_ledger_but_never_queued(services) -> None:
    mailed = subscribe(services, "ada@example.org", "robot*")
    fed = subscribe(services, "bob@example.org", "robot*", delivery="feed")
    store(services, MON.replace(hour=10), paper("2606.00001", "Robotic hands"),
          paper("2606.00002", "Robot arms"))

    report = compose_due(services, now=TUE.replace(hour=7))

    assert (report.composed, report.fed, report.empty) == (2, 1, 0)
    assert digests_of(services, fed) == digests_of(services, mailed)
    assert len(report.outbox_ids) == 1
    with services.sessions() as session:
        rows = session.scalars(select(OutboxMessage)).all()
    assert [(row.kind, row.to_addr) for row in rows] == [("digest", "ada@example.org")]

    # The ledger holds for the feed too: tomorrow's digest has only what is new.
    store(services, TUE.replace(hour=9), paper("2606.00003", "Robots again"))
    assert compose_due(services, now=WED.replace(hour=7)).fed == 1
    assert digests_of(services, fed) == [["2606.00001", "2606.00002"], ["2606.00003"]]
    assert count(services, OutboxMessage) == 2  # Ada's two emails, nothing for Bob


def test_digest_send_counts_a_feed_digest_as_sent(services, smtp_server) -> None:
    bob = subscribe(services, "bob@example.org", "robot*", delivery="feed")
    store(services, MON.replace(hour=10), paper("2606.00001", "Robotic hands"))

    summary = pipeline.send(services, clock=lambda: TUE.replace(hour=7))

    assert summary.line() == "sent 1, empty 0, deferred 0, failed 0"
    assert smtp_server.messages == []
    assert count(services, Digest) == 1
    assert digests_of(services, bob) == [["2606.00001"]]


def test_a_dry_run_counts_a_feed_digest_and_stores_nothing(services) -> None:
    subscribe(services, "bob@example.org", "robot*", delivery="feed")
    store(services, MON.replace(hour=10), paper("2606.00001", "Robotic hands"))
    summary = pipeline.send(services, clock=lambda: TUE.replace(hour=7), dry_run=True)
    assert summary.line() == "sent 1, empty 0, deferred 0, failed 0"
    assert count(services, Digest) == 0


def test_nothing_matched_is_empty_for_a_feed_reader_too(services) -> None:
    subscribe(services, "bob@example.org", "robot*", delivery="feed")
    store(services, MON.replace(hour=10), paper("2606.00001", "Protein folding"))
    report = compose_due(services, now=TUE.replace(hour=7))
    assert (report.composed, report.fed, report.empty) == (0, 0, 1)


def test_a_digest_queued_before_switching_to_the_feed_is_not_mailed(
    smtp_services, smtp_server
) -> None:
    ada = subscribe(smtp_services, "ada@example.org", "robot*")
    store(smtp_services, MON.replace(hour=10), paper("2606.00001", "Robotic hands"))
    report = compose_due(smtp_services, now=TUE.replace(hour=7))
    change(smtp_services, ada, delivery="feed")

    outbox.deliver(smtp_services, worker_id="test", clock=lambda: TUE.replace(hour=7))

    assert smtp_server.messages == []
    with smtp_services.sessions() as session:
        row = session.get(OutboxMessage, report.outbox_ids[0])
        assert row.state == "cancelled" and "feed" in row.last_error
    assert digests_of(smtp_services, ada) == [["2606.00001"]]  # still in the feed


def test_every_digest_email_links_to_the_readers_feed_in_both_parts(services) -> None:
    from email import message_from_bytes
    from email.policy import default

    from digest.tokens import Tokens

    ada = subscribe(services, "ada@example.org", "robot*")
    store(services, MON.replace(hour=10), paper("2606.00001", "Robotic hands"))
    compose_due(services, now=TUE.replace(hour=7))
    tokens = Tokens(services.settings.secret_key)
    with services.sessions() as session:
        row = session.scalars(select(OutboxMessage)).one()
        token = tokens.make("feed", session.get(Subscriber, ada))
    feed = f"{services.settings.base_url}/feed/{token}"
    message = message_from_bytes(row.message, policy=default)
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f"Your feed: {feed}" in text
    assert "paste this link into its" in text
    assert f'<a href="{feed}"' in html and "feed reader" in html
