"""Storing papers and planning digests never overlap, so no paper falls between two windows."""

from __future__ import annotations

import threading

from conftest import postgres_url, require
from sqlalchemy import select

from digest.db import utcnow
from digest.models import Paper
from digest.papers.ingest import fetch_sources
from digest.papers.locks import exclusive

SAMPLE = "arxiv-rss-cs.AI-2026-04-27-excerpt.xml"


def first_seen(services) -> list:
    with services.sessions() as session:
        return list(session.scalars(select(Paper.first_seen_at)))


def test_papers_are_stamped_when_stored_unless_the_caller_fixes_the_time(services, feeds_dir):
    before = utcnow()
    [result] = fetch_sources(services, [str(feeds_dir / SAMPLE)])
    assert result.error is None and result.counts is not None and result.counts.new == 3
    stamps = first_seen(services)
    assert len(stamps) == 3 and all(before <= stamp <= utcnow() for stamp in stamps)


def test_storing_waits_for_a_running_planner_and_stamps_after_it(services, feeds_dir):
    if services.engine.dialect.name != "postgresql":
        if postgres_url() is None:
            require("postgres", "the planning fence across connections needs PostgreSQL")
        return  # the PostgreSQL URL exists, but this pass runs on SQLite: covered by that pass
    done = threading.Event()

    def store() -> None:
        fetch_sources(services, [str(feeds_dir / SAMPLE)])
        done.set()

    with exclusive(services.engine, "plan", wait=True):
        worker = threading.Thread(target=store)
        worker.start()
        assert not done.wait(timeout=1.0), "papers were stored while a planner ran"
        planner_finished = utcnow()
    worker.join(timeout=30)
    assert done.is_set()
    assert all(stamp >= planner_finished for stamp in first_seen(services))


def test_a_planner_that_does_not_wait_skips_while_papers_are_stored(services):
    if services.engine.dialect.name != "postgresql":
        if postgres_url() is None:
            require("postgres", "the planning fence across connections needs PostgreSQL")
        return
    from digest import pipeline
    from digest.papers.locks import fence_planning

    with services.sessions.begin() as session:
        fence_planning(session)
        result: list = []
        thread = threading.Thread(target=lambda: result.append(pipeline.plan(services, wait=False)))
        thread.start()
        thread.join(timeout=30)
    assert result == [None]
