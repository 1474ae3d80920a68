"""The keyword check is bounded whatever the profile: paper cap, time budget, few examples."""

from __future__ import annotations

import itertools
import random
import time
from datetime import timedelta

from web_support import add_paper

from benchmarks.datagen import paper_ins
from digest.matching import parse_profile
from digest.papers.store import store_papers
from digest.web import check


def test_only_the_newest_papers_up_to_the_cap_are_looked_at(services, clock, monkeypatch):
    monkeypatch.setattr(check, "MAX_PAPERS", 3)
    for n in range(5):
        add_paper(services.sessions, f"p{n}", f"Robot {n}", clock() - timedelta(hours=10 - n))
    add_paper(services.sessions, "old", "Robot old", clock() - timedelta(days=8))
    with services.reads() as session:
        result = check.run_check(session, parse_profile("robot*"), now=clock())
    assert (result.count, result.considered, result.total) == (3, 3, 5)
    assert sorted(e.title for e in result.examples) == ["Robot 2", "Robot 3", "Robot 4"]


def test_preparing_papers_stops_when_the_time_budget_is_spent(services, clock):
    for n in range(6):
        add_paper(services.sessions, f"p{n}", f"Robot {n}", clock() - timedelta(hours=n + 1))
    ticks = itertools.count(step=check.BUDGET_SECONDS / 3.5)  # the budget lasts three papers
    with services.reads() as session:
        result = check.run_check(
            session, parse_profile("robot*"), now=clock(), clock=lambda: next(ticks)
        )
    assert (result.considered, result.total, result.count) == (3, 6, 3)


def test_a_pathological_profile_costs_about_as_little_as_a_plain_one(services, clock):
    with services.sessions.begin() as session:
        papers = paper_ins(1000, random.Random(3), clock())
        store_papers(session, papers, source="bench", now=clock() - timedelta(hours=1))
    rng = random.Random(4)
    letters = "abcdefghijklmnopqrstuvwxyz"
    heavy = "\n".join(" AND ".join(f"{c}*" for c in rng.sample(letters, 14)) for _ in range(50))
    timings = {}
    for name, keywords in (("plain", "robot*"), ("heavy", heavy)):
        start = time.process_time()
        with services.reads() as session:
            result = check.run_check(session, parse_profile(keywords), now=clock())
        timings[name] = time.process_time() - start
        assert len(result.examples) <= check.CHECK_EXAMPLES
    assert timings["heavy"] < 2 * timings["plain"] + 0.5, timings
