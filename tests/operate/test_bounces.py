"""`digest bounces`: real-format DSNs and complaints, each with the effect SPEC §12 names."""

from __future__ import annotations

from datetime import timedelta

import pytest
from bounce_support import BOUNCE, HERE, fixture, sent, state, subscriber
from click.testing import CliRunner
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import func, select

from digest.cli import main
from digest.db import utcnow
from digest.mail.delivery import Job, record
from digest.models import Bounce, OutboxMessage, Subscriber
from digest.operate.bounces import process
from digest.operate.reports import read_report

HARD = ["postfix_hard", "exim_hard", "gmail_hard", "microsoft_hard", "ses_hard"]


@pytest.fixture
def env(cli_env) -> dict[str, str]:
    return {**cli_env, "DIGEST_BOUNCE_ADDRESS": BOUNCE}


def run(env, raw: bytes, *args: str):
    return CliRunner().invoke(main, ["bounces", *args], env=env, input=raw)


@pytest.mark.parametrize("name", HARD)
def test_every_mtas_hard_bounce_is_read_as_hard(name) -> None:
    report = read_report(fixture(name, 1))
    assert report.kind == "hard"
    assert report.status and report.status.startswith("5.")


@pytest.mark.parametrize(("name", "kind"), [
    ("soft_mailbox_full", "soft"), ("delayed", "soft"), ("arf_complaint", "complaint"),
    ("jmrp_complaint", "complaint"), ("vacation", "ignored"),
])
def test_other_reports_are_read_for_what_they_are(name, kind) -> None:
    assert read_report(fixture(name, 1)).kind == kind


@pytest.mark.parametrize("name", HARD)
def test_three_hard_bounces_in_a_row_suspend_the_address(sessions, env, name) -> None:
    who = subscriber(sessions)
    rows = [sent(sessions, who, n) for n in range(3)]  # all accepted before any bounce came
    for n, row in enumerate(rows):
        result = run(env, fixture(name, row, msgid=f"b{n}"))
        assert result.output == "hard 1, soft 0, complaints 0, ignored 0\n", result.output
        assert state(sessions, who)[:2] == ("confirmed" if n < 2 else "suspended", n + 1)


def test_a_message_delivered_between_two_bounces_resets_the_count(sessions, env) -> None:
    who = subscriber(sessions)
    first = sent(sessions, who, 0)
    assert run(env, fixture("postfix_hard", first, msgid="1")).exit_code == 0
    assert state(sessions, who)[1] == 1
    fine, second, third = sent(sessions, who, 1), sent(sessions, who, 2), sent(sessions, who, 3)
    with sessions.begin() as session:  # the delivery path forgives, as it does after a 5xx
        record(session, Job(id=fine, to_addr="x", message=b"", subscriber_id=who,
                            hard_failures=1), None, now=utcnow() - timedelta(minutes=59))
    assert state(sessions, who)[1] == 0
    run(env, fixture("gmail_hard", second, msgid="2"))
    run(env, fixture("gmail_hard", third, msgid="3"))
    # first, (fine), second, third: two in a row since the delivered one, not three.
    assert state(sessions, who)[:2] == ("confirmed", 2)


def test_a_daily_digest_that_bounces_each_day_is_suspended_on_the_third(sessions, env) -> None:
    """The relay accepts each day's digest before the day's bounce comes back."""
    who = subscriber(sessions)
    for day in range(3):
        row = sent(sessions, who, day)
        with sessions.begin() as session:  # accepted by the relay: the delivery path resets
            record(session, Job(id=row, to_addr="x", message=b"", subscriber_id=who,
                                hard_failures=state(sessions, who)[1]), None, now=utcnow())
        run(env, fixture("postfix_hard", row, msgid=f"day{day}"))
    assert state(sessions, who)[:2] == ("suspended", 3)


def test_the_same_report_twice_counts_once(sessions, env) -> None:
    who = subscriber(sessions)
    row = sent(sessions, who, 0)
    assert run(env, fixture("exim_hard", row)).output.startswith("hard 1")
    assert run(env, fixture("exim_hard", row)).output == "hard 0, soft 0, complaints 0, ignored 1\n"
    run(env, fixture("postfix_hard", row))  # another report on the same message
    assert state(sessions, who)[1] == 1


@pytest.mark.parametrize("name", ["arf_complaint", "jmrp_complaint"])
def test_a_complaint_unsubscribes_at_once_and_cancels_queued_mail(sessions, env, name) -> None:
    who = subscriber(sessions)
    row = sent(sessions, who, 0)
    with sessions.begin() as session:
        session.add(OutboxMessage(kind="digest", dedupe_key="queued", to_addr="x@example.net",
                                  subscriber_id=who, state="queued", message=b"x"))
    result = run(env, fixture(name, row))
    assert result.output == "hard 0, soft 0, complaints 1, ignored 0\n"
    assert state(sessions, who)[0] == "unsubscribed"
    with sessions() as session:
        queued = session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == "queued"))
        assert queued is not None and queued.state == "cancelled"


@pytest.mark.parametrize("name", ["soft_mailbox_full", "delayed"])
def test_a_soft_bounce_is_counted_and_shown_not_suspending(sessions, env, name) -> None:
    who = subscriber(sessions)
    for n in range(4):
        result = run(env, fixture(name, sent(sessions, who, n), msgid=f"s{n}"))
        assert result.output == "hard 0, soft 1, complaints 0, ignored 0\n"
    assert state(sessions, who) == ("confirmed", 0, 4)
    with sessions() as session:
        last = session.get(Subscriber, who)
        assert last is not None and last.last_bounce and last.last_bounce.startswith("soft 4.")
        assert last.last_bounce_at is not None


@pytest.mark.parametrize("name", ["forged", "vacation"])
def test_a_forged_bounce_or_an_auto_reply_changes_nothing(sessions, env, name) -> None:
    who = subscriber(sessions)
    rows = [sent(sessions, who, n) for n in range(3)]
    for n, row in enumerate(rows):
        result = run(env, fixture(name, row, msgid=f"f{n}"))
        assert result.exit_code == 0
        assert result.output == "hard 0, soft 0, complaints 0, ignored 1\n"
    assert state(sessions, who) == ("confirmed", 0, 0)


def test_without_a_bounce_address_nothing_is_trusted(sessions, cli_env) -> None:
    who = subscriber(sessions)
    result = run(cli_env, fixture("postfix_hard", sent(sessions, who, 0)))
    assert result.output.endswith("hard 0, soft 0, complaints 0, ignored 1\n")
    assert state(sessions, who)[1] == 0


def test_a_token_for_a_purged_row_is_ignored(sessions, env) -> None:
    assert run(env, fixture("postfix_hard", 999)).output.endswith("ignored 1\n")


def test_garbage_is_ignored_and_the_exit_is_0(sessions, env, tmp_path) -> None:
    for raw in (b"", b"\x00\xff garbage \r\n\r\n", b"Content-Type: multipart/report; "
                b"report-type=delivery-status; boundary=x\r\n\r\n--x\r\n"):
        result = run(env, raw)
        assert (result.exit_code, result.output) == (0, "hard 0, soft 0, complaints 0, ignored 1\n")
    path = tmp_path / "one.eml"
    path.write_bytes(fixture("vacation", 1))
    assert CliRunner().invoke(main, ["bounces", str(path)], env=env).output.endswith("ignored 1\n")


def test_an_unreadable_file_exits_1(sessions, env, tmp_path) -> None:
    result = CliRunner().invoke(main, ["bounces", str(tmp_path / "none.eml")], env=env)
    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_bounce_rows_are_kept_for_the_dashboard(sessions, env) -> None:
    who = subscriber(sessions)
    run(env, fixture("ses_hard", sent(sessions, who, 0)))
    run(env, fixture("vacation", 1))
    with sessions() as session:
        kinds = dict(session.execute(select(Bounce.kind, func.count()).group_by(Bounce.kind)).all())
    assert kinds == {"hard": 1, "ignored": 1}


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000) | st.sampled_from(sorted(HERE.glob("*.eml"))).map(
    lambda p: p.read_bytes()).flatmap(lambda raw: st.integers(0, len(raw)).map(
        lambda cut: raw[:cut])))
def test_read_report_never_raises_on_anything(raw: bytes) -> None:
    assert read_report(raw).kind in ("hard", "soft", "complaint", "ignored")


@pytest.mark.parametrize("name", sorted(p.stem for p in HERE.glob("*.eml")))
def test_process_never_raises_on_a_damaged_fixture(sessions, settings, name) -> None:
    from dataclasses import replace

    bounce_settings = replace(settings, bounce_address=BOUNCE)
    raw = fixture(name, 1)
    for cut in range(0, len(raw), max(1, len(raw) // 25)):
        with sessions.begin() as session:
            process(session, bounce_settings, raw[:cut] + b"\r\n", now=utcnow())


def test_a_database_that_cannot_be_used_exits_75_so_the_mta_retries(env, tmp_path) -> None:
    broken = {**env, "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    result = CliRunner().invoke(main, ["bounces"], env=broken, input=fixture("vacation", 1))
    assert result.exit_code == 75
    assert "digest db upgrade" in result.output
