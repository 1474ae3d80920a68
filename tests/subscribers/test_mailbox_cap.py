"""The 3-a-day cap on confirmation and manage-link emails counts mailboxes, not spellings
(issue 8, item 6): sub-addressing is stripped everywhere, and Gmail's dots and googlemail.com
alias fold into one inbox. The address is stored and written to as typed."""

from __future__ import annotations

import pytest
from web_support import make_app, outbox, subscribe

from digest.mail.mailbox import mailbox_key
from digest.subscribers.notices import MAX_EMAILS_PER_ADDRESS

ONE_GMAIL_INBOX = [
    "ada.lovelace@gmail.com",
    "adalovelace@gmail.com",
    "ada.lovelace+digest@gmail.com",
    "a.d.a.lovelace@googlemail.com",
    "adalovelace+papers@googlemail.com",
    "Ada.Love.Lace@Gmail.com",
    "adalovelace+1@gmail.com",
    "ada.lovelace+2@googlemail.com",
    "ADA.LOVELACE+x@GoogleMail.com",
]


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Ada.Lovelace+x@GoogleMail.com", "adalovelace@gmail.com"),
        ("ada+tag@example.org", "ada@example.org"),
        ("A.da+x+y@Example.ORG", "a.da@example.org"),  # dots only matter at Gmail
        ("+tag@example.org", "+tag@example.org"),  # nothing before the tag: left alone
    ],
)
def test_mailbox_keys(typed, key) -> None:
    assert mailbox_key(typed) == key


def test_nine_spellings_of_one_gmail_inbox_get_at_most_three_emails_a_day(services, clock):
    client = make_app(services, clock).test_client()
    for address in ONE_GMAIL_INBOX:
        assert subscribe(client, email=address).status_code == 200
        clock.advance(minutes=1)
    sent = [m for m in outbox(services.sessions) if m.kind in ("confirm", "manage_link")]
    assert len(sent) == MAX_EMAILS_PER_ADDRESS
    assert [m.to_addr for m in sent] == [a.lower() for a in ONE_GMAIL_INBOX[:3]]  # as typed
    clock.advance(hours=24)
    assert subscribe(client, email=ONE_GMAIL_INBOX[-1]).status_code == 200
    assert len(outbox(services.sessions)) == MAX_EMAILS_PER_ADDRESS + 1


def test_other_mailboxes_at_the_same_domain_are_counted_apart(services, clock):
    client = make_app(services, clock).test_client()
    for address in ("ada@example.org", "a.da@example.org", "bob+x@example.org", "bob@example.org"):
        subscribe(client, email=address)
    assert len(outbox(services.sessions)) == 4


def test_the_migration_gives_older_capped_rows_their_mailbox(tmp_path) -> None:
    from sqlalchemy import text

    from digest.db import make_engine, upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    engine = make_engine(url)
    with engine.begin() as conn:
        for n, (kind, to) in enumerate([("confirm", "A.da+x@gmail.com"), ("digest", "b@x.org")]):
            conn.execute(text(
                "INSERT INTO outbox (kind, dedupe_key, to_addr, subject, state, attempts,"
                " next_attempt_at, created_at) VALUES (:kind, :key, :to, '', 'sent', 1,"
                " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ), {"kind": kind, "key": f"k{n}", "to": to})
    upgrade(url, "0002_mailbox_key")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, mailbox FROM outbox ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("confirm", "ada@gmail.com"), ("digest", None)]
