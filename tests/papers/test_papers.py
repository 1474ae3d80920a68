"""Storing papers: one row per arXiv id across feeds, merged fields, versions, first-seen time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, select

from digest.feeds import PaperIn, parse_feed
from digest.models import Paper
from digest.papers.store import StoreCounts, papers_first_seen_since, store_papers

T0 = datetime(2026, 8, 2, 6, 0, tzinfo=UTC)
HF = "hf-daily-papers-2026-07-31.json"
API = "arxiv-api-atom-2026-08-02-cat-cs.AI-cs.LG-cs.CL-sort-submittedDate.xml"


def load(feeds_dir: Path, name: str) -> list[PaperIn]:
    return parse_feed((feeds_dir / name).read_bytes(), name)


def one(feeds_dir: Path, name: str, key: str) -> PaperIn:
    return next(paper for paper in load(feeds_dir, name) if paper.key == key)


def store(sessions, papers, source="feed", now=T0) -> StoreCounts:
    with sessions.begin() as session:
        return store_papers(session, papers, source=source, now=now)


def stored(sessions, key: str) -> Paper:
    with sessions() as session:
        return session.scalars(select(Paper).where(Paper.key == key)).one()


def test_a_feed_stores_every_paper_with_its_fields(sessions, feeds_dir) -> None:
    assert store(sessions, load(feeds_dir, HF), source="hf") == StoreCounts(30, 0, 0)
    paper = stored(sessions, "2607.23193")
    assert paper.arxiv_id == "2607.23193"
    assert paper.title.startswith("OmniScope: Modality-Decoupled Token Compression")
    assert paper.upvotes == 3
    assert paper.code_url == "https://github.com/MAC-AutoML/OmniScope"
    assert paper.authors[:2] == ["Jinsen Su", "Yongdong Luo"]
    assert paper.sources == ["hf"]
    assert paper.first_seen_at == paper.last_seen_at == T0
    assert paper.published_at == datetime(2026, 7, 28, tzinfo=UTC)


def test_storing_the_same_feed_again_changes_nothing_but_last_seen(sessions, feeds_dir) -> None:
    store(sessions, load(feeds_dir, API))
    later = T0 + timedelta(hours=6)
    assert store(sessions, load(feeds_dir, API), now=later) == StoreCounts(0, 0, 25)
    paper = stored(sessions, "2607.28582")
    assert (paper.first_seen_at, paper.last_changed_at, paper.last_seen_at) == (T0, T0, later)


@pytest.mark.parametrize("order", [(HF, API), (API, HF)])
def test_hf_and_arxiv_copies_of_a_paper_merge_into_one_row(sessions, feeds_dir, order) -> None:
    for name in order:
        store(sessions, [one(feeds_dir, name, "2607.28582")], source=name)
    with sessions() as session:
        assert len(session.scalars(select(Paper)).all()) == 1
    paper = stored(sessions, "2607.28582")
    assert paper.upvotes == 19  # from Hugging Face
    assert paper.project_url == "https://umd-huang-lab.github.io/beta-opsd/"
    assert paper.categories[0] == "cs.LG"  # from arXiv
    assert paper.version == 1
    # arXiv's versioned text wins whichever came first.
    assert (
        paper.title
        == "$β$-OPSD: Deriving with Policy Optimization, Training with Self-Distillation"
    )
    assert paper.published_at == datetime(2026, 7, 30, 0, 0, tzinfo=UTC)  # the earliest seen
    assert sorted(paper.sources) == sorted(order)


def test_second_source_counts_as_updated_only_when_it_adds_something(sessions, feeds_dir) -> None:
    store(sessions, [one(feeds_dir, API, "2607.28582")])
    assert store(sessions, [one(feeds_dir, HF, "2607.28582")]) == StoreCounts(0, 1, 0)
    assert store(sessions, [one(feeds_dir, HF, "2607.28582")]) == StoreCounts(0, 0, 1)


def test_a_new_version_updates_text_version_and_date_but_not_first_seen(
    sessions, feeds_dir
) -> None:
    v1 = one(feeds_dir, API, "2607.28582")
    v2 = replace(
        v1,
        version=2,
        title="β-OPSD v2",
        abstract="Revised abstract.",
        updated_at=datetime(2026, 8, 10, tzinfo=UTC),
    )
    store(sessions, [v1])
    later = T0 + timedelta(days=9)
    assert store(sessions, [v2], now=later) == StoreCounts(0, 1, 0)
    paper = stored(sessions, "2607.28582")
    assert (paper.version, paper.title, paper.abstract) == (2, "β-OPSD v2", "Revised abstract.")
    assert paper.updated_at == datetime(2026, 8, 10, tzinfo=UTC)
    assert paper.first_seen_at == T0 and paper.last_changed_at == later
    # The old version arriving late (another feed's stale copy) does not roll it back.
    assert store(sessions, [v1], now=later + timedelta(days=1)) == StoreCounts(0, 0, 1)
    assert stored(sessions, "2607.28582").title == "β-OPSD v2"


def test_a_poorer_source_never_blanks_out_known_fields(sessions, feeds_dir) -> None:
    rss = one(feeds_dir, "arxiv-rss-cs.CL-2026-04-27-excerpt.xml", "2604.22002")
    store(sessions, [rss])
    bare = replace(rss, version=None, abstract="", authors=(), categories=(), pdf_url=None)
    assert store(sessions, [bare]) == StoreCounts(0, 0, 1)
    paper = stored(sessions, "2604.22002")
    assert paper.authors[2] == "Deepti" and paper.categories == ["cs.CL"]
    assert paper.abstract.startswith("Social media platforms") and paper.version == 1


def test_new_upvotes_are_an_update(sessions, feeds_dir) -> None:
    paper = one(feeds_dir, HF, "2607.23193")
    store(sessions, [paper])
    assert store(sessions, [replace(paper, upvotes=40)]) == StoreCounts(0, 1, 0)
    assert stored(sessions, "2607.23193").upvotes == 40


def test_duplicates_within_one_feed_collapse(sessions, feeds_dir) -> None:
    paper = one(feeds_dir, HF, "2607.23193")
    counts = store(sessions, [paper, replace(paper, upvotes=5), paper])
    assert counts == StoreCounts(1, 0, 0)
    assert stored(sessions, "2607.23193").upvotes == 5


def test_papers_from_every_arxiv_feed_resolve_to_the_same_ids(sessions, feeds_dir) -> None:
    takara = one(feeds_dir, "hf-papers-rss-takara-tldr-2026-04-30.xml", "2604.26932")
    store(sessions, [takara], source="takara")
    store(sessions, [replace(takara, version=1, categories=("math.OC",))], source="arxiv")
    assert stored(sessions, "2604.26932").sources == ["takara", "arxiv"]


def test_papers_first_seen_since_is_a_half_open_window(sessions, feeds_dir) -> None:
    hf = load(feeds_dir, HF)
    store(sessions, hf[:2], now=T0)
    store(sessions, hf[2:5], now=T0 + timedelta(hours=1))
    store(sessions, hf[5:6], now=T0 + timedelta(hours=2))
    with sessions() as session:
        window = papers_first_seen_since(session, T0 + timedelta(hours=1), T0 + timedelta(hours=2))
        everything = papers_first_seen_since(session, T0)
    assert [p.key for p in window] == [p.key for p in hf[2:5]]
    assert len(everything) == 6


def test_a_large_feed_is_stored_with_a_few_bulk_lookups(sessions, engine, feeds_dir) -> None:
    template = one(feeds_dir, HF, "2607.23193")
    papers = [replace(template, key=f"2608.{n:05d}", arxiv_id=f"2608.{n:05d}") for n in range(2000)]
    selects: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "papers" in statement:
            selects.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert store(sessions, papers) == StoreCounts(2000, 0, 0)
        assert store(sessions, papers) == StoreCounts(0, 0, 2000)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(selects) <= 2 * 4  # 2000 keys in chunks of 500, twice
