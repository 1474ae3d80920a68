"""The judged set's papers: every paper of the fixture feeds, parsed with digest.feeds, in a
stable order, split into day 1 and day 2 by a hash of the paper's key (deterministic halves)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from digest.feeds import FeedError, PaperIn, parse_feed

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "feeds"


def fixtures_dir() -> Path:
    """The shared fixtures folder (checkout/../shared, or /work/shared)."""
    for candidate in (FIXTURES, Path("/work/shared/fixtures/feeds")):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("fixture feeds not found")


def corpus() -> list[PaperIn]:
    """Every distinct paper of the fixture feeds, sorted by key."""
    seen: dict[str, PaperIn] = {}
    for path in sorted(fixtures_dir().iterdir()):
        if path.suffix not in (".xml", ".json"):
            continue
        try:
            papers = parse_feed(path.read_bytes(), str(path))
        except FeedError:
            continue  # the arXiv error-entry fixture
        for paper in papers:
            seen.setdefault(paper.key, paper)
    return [seen[key] for key in sorted(seen)]


def day_of(paper: PaperIn) -> int:
    """1 or 2: a deterministic half of the corpus."""
    return 1 + hashlib.sha1(paper.key.encode()).digest()[0] % 2
