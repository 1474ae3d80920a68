"""VERP: with DIGEST_BOUNCE_ADDRESS, the envelope sender names the outbox row, signed."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from digest.mail.outbox import deliver, queue_email
from digest.mail.verp import envelope_sender, make_token, read_token, token_pattern
from digest.models import OutboxMessage

KEY = "test-secret-key"


@given(st.integers(0, 2**40 - 1))
def test_a_token_names_its_row_and_nothing_else(outbox_id: int) -> None:
    token = make_token(KEY, outbox_id)
    assert len(token) == 16 and token == token.lower()
    assert read_token(KEY, token) == outbox_id
    assert read_token(KEY, token.upper().lower()) == outbox_id
    assert read_token("another-key", token) is None


def test_an_altered_or_malformed_token_is_not_recognised() -> None:
    token = make_token(KEY, 42)
    for n in range(16):
        flipped = token[:n] + ("a" if token[n] != "a" else "b") + token[n + 1:]
        assert read_token(KEY, flipped) is None
    for bad in ("", "abc", token + "a", "1" * 16, "!" * 16):
        assert read_token(KEY, bad) is None


def test_the_address_is_found_in_a_header_value() -> None:
    address = envelope_sender("bounces@example.org", KEY, 7)
    assert address.startswith("bounces+") and address.endswith("@example.org")
    pattern = token_pattern("bounces@example.org")
    assert pattern.findall(f"<{address.upper()}>") == [make_token(KEY, 7).upper()]
    assert pattern.findall(f"xbounces+{make_token(KEY, 7)}@example.org") == []


def queue(services, clock) -> int:
    with services.sessions.begin() as session:
        return queue_email(session, services.settings, kind="notice", dedupe_key="n:1",
                           to_addr="ada@example.com", subject="hi", text="hello\n", html=None,
                           now=clock())


def test_smtp_mail_from_is_the_verp_address_of_the_row(smtp_services, smtp_server, clock) -> None:
    settings = dataclasses.replace(smtp_services.settings, bounce_address="bounces@example.org")
    services = dataclasses.replace(smtp_services, settings=settings)
    queue(services, clock)
    assert deliver(services, worker_id="w1", clock=clock).sent == 1
    with services.sessions() as session:
        row_id = session.scalar(select(OutboxMessage.id))
    [received] = smtp_server.messages
    assert received.mail_from == envelope_sender("bounces@example.org", KEY, row_id)
    assert received.message["From"] == "Paper Digest <digest@example.org>"  # unchanged


def test_without_a_bounce_address_mail_from_is_the_from_address(
    smtp_services, smtp_server, clock
) -> None:
    queue(smtp_services, clock)
    deliver(smtp_services, worker_id="w1", clock=clock)
    assert smtp_server.messages[0].mail_from == "digest@example.org"


def test_eml_files_start_with_the_return_path_a_local_delivery_would_write(services, clock):
    settings = dataclasses.replace(services.settings, bounce_address="bounces@example.org")
    services = dataclasses.replace(services, settings=settings)
    queue(services, clock)
    deliver(services, worker_id="w1", clock=clock)
    [path] = services.settings.mail_dir.glob("*.eml")
    with services.sessions() as session:
        row = session.scalars(select(OutboxMessage)).one()
    verp = envelope_sender("bounces@example.org", KEY, row.id)
    assert path.read_bytes() == f"Return-Path: <{verp}>\r\n".encode() + row.message
