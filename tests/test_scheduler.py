"""The scheduler: its jobs and their settings, one planner at a time, and a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import conftest
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import create_engine, func, select

from digest.feeds.common import PaperIn
from digest.models import Digest, Subscriber
from digest.papers.locks import exclusive, lock_key
from digest.papers.store import store_papers
from digest.scheduler import add_jobs, plan_job, start_scheduler


def due_subscriber(services) -> int:
    now = datetime.now(UTC)
    paper = PaperIn(
        key="2606.00002", arxiv_id="2606.00002", version=1, title="Robotic hands", abstract="",
        authors=(), categories=(), url=None, pdf_url=None, code_url=None, project_url=None,
        upvotes=None, published_at=None, updated_at=None, announce_type=None,
    )  # fmt: skip
    with services.sessions.begin() as session:
        store_papers(session, [paper], source="test", now=now - timedelta(hours=1))
        subscriber = Subscriber(
            email="ada@example.org", status="confirmed", keywords="robot*", token_nonce="n",
            confirmed_at=now - timedelta(days=2), last_digest_at=now - timedelta(days=1),
            next_digest_at=now - timedelta(minutes=1),
        )  # fmt: skip
        session.add(subscriber)
        session.flush()
        return subscriber.id


def digests(services) -> int:
    with services.sessions() as session:
        return session.scalar(select(func.count()).select_from(Digest))


def test_jobs_are_registered_with_deliberate_settings(services) -> None:
    scheduler = add_jobs(BackgroundScheduler(timezone=UTC), services)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"fetch", "plan", "deliver", "housekeeping", "purge"}
    for job in jobs.values():
        assert (job.coalesce, job.max_instances) == (True, 1)
    assert jobs["fetch"].misfire_grace_time == 3600
    assert jobs["plan"].trigger.interval == timedelta(minutes=5)
    assert jobs["deliver"].trigger.interval == timedelta(seconds=30)
    assert jobs["purge"].trigger.interval == timedelta(hours=24)


def test_default_fetch_schedule_follows_the_feeds(services) -> None:
    scheduler = add_jobs(BackgroundScheduler(timezone=UTC), services)
    trigger = scheduler.get_job("fetch").trigger
    assert isinstance(trigger, CronTrigger)
    moment = datetime(2026, 4, 27, 0, 0, tzinfo=UTC)
    fires = []
    for _ in range(4):
        moment = trigger.get_next_fire_time(None, moment + timedelta(seconds=1))
        fires.append(moment.strftime("%H:%M"))
    # 05:15 UTC follows arXiv's announcement at midnight US Eastern (04:00 or 05:00 UTC).
    assert fires == ["01:15", "05:15", "13:15", "19:15"]


def test_plan_job_composes_the_digests_due(services) -> None:
    due_subscriber(services)
    plan_job(services)
    assert digests(services) == 1
    plan_job(services)
    assert digests(services) == 1


def test_start_scheduler_runs_in_the_background_until_shut_down(services) -> None:
    scheduler = start_scheduler(services)
    try:
        assert scheduler.running
        assert {job.id for job in scheduler.get_jobs()} == {
            "fetch", "plan", "deliver", "housekeeping", "purge"
        }
    finally:
        scheduler.shutdown(wait=True)
    assert not scheduler.running


def test_lock_keys_are_stable_and_distinct() -> None:
    assert lock_key("plan") == lock_key("plan") != lock_key("fetch")
    assert -(2**63) <= lock_key("plan") < 2**63


def test_plan_job_skips_its_round_while_this_process_fetches_or_plans(services) -> None:
    due_subscriber(services)
    holding, release = threading.Event(), threading.Event()

    def fetching() -> None:  # what fetch_job holds while it ingests
        with exclusive(services.engine, "plan", wait=True):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=fetching)
    thread.start()
    try:
        assert holding.wait(10)
        plan_job(services)
        assert digests(services) == 0
    finally:
        release.set()
        thread.join()
    plan_job(services)
    assert digests(services) == 1


def test_only_one_scheduler_process_plans_at_a_time_on_postgresql(services) -> None:
    if services.engine.dialect.name != "postgresql":
        if conftest.postgres_url() is None:
            conftest.require("postgres", "the advisory lock needs PostgreSQL")
        pytest.skip("runs in the PostgreSQL pass (DIGEST_TEST_DATABASE_URL)")
    due_subscriber(services)
    # Another scheduler process holds the planning lock: its own connection, its own session.
    other = create_engine(services.engine.url)
    try:
        with other.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            assert connection.scalar(select(func.pg_try_advisory_lock(lock_key("plan"))))
            with exclusive(services.engine, "plan") as mine:
                assert not mine
            plan_job(services)
            assert digests(services) == 0
            with exclusive(services.engine, "fetch") as mine:
                assert mine  # one lock per job
            connection.scalar(select(func.pg_advisory_unlock(lock_key("plan"))))
        plan_job(services)
        assert digests(services) == 1
    finally:
        other.dispose()


def test_digest_scheduler_stops_cleanly_on_sigterm(cli_env) -> None:
    env = {**os.environ, **cli_env}
    process = subprocess.Popen(
        [sys.executable, "-c", "from digest.cli import main; main()", "scheduler"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        for line in process.stderr:  # the signal handlers are in place once this is logged
            if "scheduler started" in line:
                break
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "scheduler stopped" in err


class RecordingScheduler:
    """Stands in for APScheduler: records when the delivery job was asked to run."""

    def __init__(self) -> None:
        self.runs: list[datetime] = []

    def modify_job(self, job_id: str, next_run_time: datetime) -> None:
        assert job_id == "deliver"
        self.runs.append(next_run_time)


def test_wakes_from_pages_gather_into_one_delivery_run(services) -> None:
    from digest.scheduler import WAKE_AFTER_SECONDS, Delivery

    delivery = Delivery(services)
    delivery.scheduler = recorder = RecordingScheduler()  # type: ignore[assignment]
    before = datetime.now(UTC)
    for _ in range(50):
        delivery.wake()
    assert len(recorder.runs) == 1  # later wakes never push the coming run back
    assert recorder.runs[0] >= before + timedelta(seconds=WAKE_AFTER_SECONDS)


def test_a_wake_during_a_run_makes_it_go_round_once_more(services, monkeypatch) -> None:
    from digest import scheduler as module

    delivery = module.Delivery(services)
    delivery.scheduler = recorder = RecordingScheduler()  # type: ignore[assignment]
    calls: list[int] = []

    def deliver(_services) -> None:
        calls.append(1)
        if len(calls) == 1:
            delivery.wake()  # mail queued while the first round runs

    monkeypatch.setattr(module, "deliver_job", deliver)
    monkeypatch.setattr(module, "WAKE_AFTER_SECONDS", 0.01)
    delivery()
    assert len(calls) == 2 and recorder.runs == []
    delivery.wake()  # idle again: the scheduler is asked
    assert len(recorder.runs) == 1
