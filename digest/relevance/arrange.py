"""One subscriber's digest in the three parts of SPEC §10, and the per-run state that keeps it
cheap.

`Relevance` lives for one composing run. `readers()` loads, in one query per batch, the liked and
rated papers of the batch's subscribers and their vectors; subscribers who liked and rated
nothing are simply absent, so their digests cost one dictionary miss. `arrange()` is the single
call composing makes per digest: keyword matches (already ranked by §5) in, `Parts` out.
The window's paper matrix is built once per run from the stored vectors (`_matrix`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest import matching
from digest.models import LikedPaper, Paper, Rating
from digest.relevance import score
from digest.relevance.embeddings import load_vectors
from digest.relevance.model import DEFAULT_MODEL

DIM = 256  # the default model's dimension
WINDOW_CACHE = 256  # windows kept per run (each a few arrays of ids, ~50 KB for 2,000 papers)

NO_MATCH = matching.Match(terms=(), in_title=False)  # what a "You may also like" paper matched
Pair = tuple[Paper, matching.Match]


@dataclass
class Parts:
    """A digest's three parts; `reasons` maps a suggested paper's id to the liked paper's title."""

    top: list[Pair]
    also_like: list[Pair] = field(default_factory=list)
    also_matched: list[Pair] = field(default_factory=list)
    reasons: dict[int, str] = field(default_factory=dict)
    arranged: bool = False  # True once the reader's likes and ratings shaped it: parts are titled

    def ordered(self) -> list[Pair]:
        """Every paper of the digest in the order shown: the ledger records them all."""
        return [*self.top, *self.also_like, *self.also_matched]

    def summary(self) -> dict[str, Any]:
        """What the digest page needs to show the parts again (stored with the digest)."""
        return {
            "also_like": {
                str(paper.id): self.reasons.get(paper.id, "") for paper, _ in self.also_like
            },
            "also_matched": [paper.id for paper, _ in self.also_matched],
        }


@dataclass(frozen=True)
class WindowView:
    """The papers of one digest window with their ids and vectors as arrays, built once per run
    and window (most digests of a run share a handful of windows)."""

    papers: list[Paper]
    ids: np.ndarray  # (n,) int64
    rows: np.ndarray  # (n,) rows of the papers' vectors in Relevance's store (not a copy)


@dataclass(frozen=True)
class ReaderState:
    """A reader's liked and disliked papers with vectors, and the liked papers' titles."""

    reader: score.Reader
    titles: dict[int, str]


class Relevance:
    """Per-run scoring state: the model's name, the vectors of the window's papers."""

    def __init__(self, *, enabled: bool, model: str = DEFAULT_MODEL) -> None:
        self.enabled = enabled
        self.model = model
        self._rows: dict[int, int] = {}  # paper id -> row of _store
        self._store = np.zeros((0, DIM), dtype=np.float32)
        self._windows: dict[tuple[datetime, datetime, int], WindowView] = {}

    def readers(self, session: Session, subscriber_ids: Sequence[int]) -> dict[int, ReaderState]:
        """The readers among these subscribers who liked or rated something (one query each)."""
        if not self.enabled or not subscriber_ids:
            return {}
        signs: dict[int, dict[int, int]] = {}
        titles: dict[int, str] = {}
        rows = session.execute(
            select(Rating.subscriber_id, Rating.paper_id, Rating.value, Paper.title)
            .join(Paper, Paper.id == Rating.paper_id)
            .where(Rating.subscriber_id.in_(subscriber_ids))
        )
        liked = session.execute(
            select(LikedPaper.subscriber_id, LikedPaper.paper_id, Paper.title)
            .join(Paper, Paper.id == LikedPaper.paper_id)
            .where(LikedPaper.subscriber_id.in_(subscriber_ids))
        )
        for subscriber_id, paper_id, title in liked:
            if paper_id is None:  # joined on it, so never; says so to the type checker
                continue
            signs.setdefault(subscriber_id, {})[paper_id] = 1
            titles[paper_id] = title
        for subscriber_id, paper_id, value, title in rows:  # a rating overrides a like
            signs.setdefault(subscriber_id, {})[paper_id] = 1 if value > 0 else -1
            titles[paper_id] = title
        if not signs:
            return {}
        vectors = load_vectors(session, self.model, {p for s in signs.values() for p in s})
        return {sid: self._state(given, vectors, titles) for sid, given in signs.items()}

    def _state(
        self, given: dict[int, int], vectors: dict[int, np.ndarray], titles: dict[int, str]
    ) -> ReaderState:
        liked = [p for p, sign in given.items() if sign > 0 and p in vectors]
        disliked = [p for p, sign in given.items() if sign < 0 and p in vectors]
        reader = score.Reader(
            tuple(liked), _stack([vectors[p] for p in liked]),
            tuple(disliked), _stack([vectors[p] for p in disliked]),
        )  # fmt: skip
        return ReaderState(reader, {p: titles[p] for p in liked})

    def matrix(self, session: Session, papers: Sequence[Paper]) -> np.ndarray:
        """The vectors of `papers` as rows (zeros for a paper without one); loaded once per run."""
        rows = self._ensure(session, [paper.id for paper in papers])  # may grow _store: first
        return self._store[rows]

    def remember(self, vectors: dict[int, np.ndarray]) -> None:
        """Take these vectors as the papers' own (preview: embedded on the fly, never stored)."""
        ids = [paper_id for paper_id in vectors if paper_id not in self._rows]
        self._append(ids, {paper_id: vectors[paper_id] for paper_id in ids})

    def _ensure(self, session: Session, ids: list[int]) -> list[int]:
        missing = [paper_id for paper_id in dict.fromkeys(ids) if paper_id not in self._rows]
        if missing:
            self._append(missing, load_vectors(session, self.model, missing))
        return [self._rows[paper_id] for paper_id in ids]

    def _append(self, ids: list[int], found: dict[int, np.ndarray]) -> None:
        block = np.zeros((len(ids), DIM), dtype=np.float32)
        for i, paper_id in enumerate(ids):
            if paper_id in found:
                block[i] = found[paper_id]
            self._rows[paper_id] = len(self._store) + i
        self._store = np.vstack([self._store, block])

    def window(
        self,
        session: Session,
        pool: Mapping[int, tuple[Paper, Any]],
        start: datetime,
        end: datetime,
    ) -> WindowView:
        """The pool's papers first seen in (start, end], as arrays; cached per window."""
        key = (start, end, len(pool))
        view = self._windows.get(key)
        if view is None:
            papers = [pair[0] for pair in pool.values() if start < pair[0].first_seen_at <= end]
            ids = [paper.id for paper in papers]
            rows = np.array(self._ensure(session, ids), dtype=np.int64)
            view = WindowView(papers, np.array(ids, dtype=np.int64), rows)
            if len(self._windows) >= WINDOW_CACHE:  # readers' windows differ by time zone
                self._windows.pop(next(iter(self._windows)))
            self._windows[key] = view
        return view

    def arrange(
        self,
        session: Session,
        state: ReaderState | None,
        matched: list[Pair],
        window: WindowView | None,
        profile: matching.Profile,
        given: AbstractSet[int] = frozenset(),
    ) -> Parts:
        """The digest's parts. Without a reader state (nothing liked or rated): all Top matches.

        `window` holds the papers suggestions are drawn from, `given` the ids of those already
        given to this reader. Composing passes none: a window holds only papers first seen
        after the reader's last digest, so none of them was in one of their digests."""
        if state is None or state.reader.empty:
            return Parts(top=matched)
        papers = [paper for paper, _ in matched]
        result = score.fit(state.reader, self.matrix(session, papers))
        drop = score.unwanted(result)
        kept = [(i, pair) for i, pair in enumerate(matched) if not drop[i]]
        # Ranked by fit first, then the §5 order (title matches, more terms, upvotes, newest):
        # the matched list arrives in §5 order and sorted() is stable.
        kept.sort(key=lambda item: -round(float(result.like[item[0]]), 2))
        parts = Parts(
            top=[pair for _, pair in kept],
            also_matched=[pair for i, pair in enumerate(matched) if drop[i]],
            arranged=True,
        )
        if window is not None:
            self._suggest(state, parts, matched, window, given, profile)
        return parts

    def _suggest(
        self,
        state: ReaderState,
        parts: Parts,
        matched: list[Pair],
        window: WindowView,
        given: AbstractSet[int],
        profile: matching.Profile,
    ) -> None:
        """Up to 5 window papers no keyword matched, close to a liked one, none excluded."""
        if not state.reader.liked_ids or not len(window.ids):
            return
        taken = {paper.id for paper, _ in matched} | set(state.reader.liked_ids)
        taken |= set(state.reader.disliked_ids) | set(given)
        rows = np.flatnonzero(~np.isin(window.ids, np.fromiter(taken, dtype=np.int64)))
        if not len(rows):
            return
        result = score.fit(state.reader, self._store[window.rows[rows]])
        minimum = score.calibrated_minimum(state.reader)
        for index in score.also_like(result, minimum=minimum, limit=len(rows)):
            paper = window.papers[int(rows[index])]
            if _excluded(paper, profile):
                continue
            parts.also_like.append((paper, NO_MATCH))
            nearest = state.reader.liked_ids[int(result.nearest[index])]
            parts.reasons[paper.id] = state.titles.get(nearest, "")
            if len(parts.also_like) == score.ALSO_LIKE_MAX:
                return


def _excluded(paper: Paper, profile: matching.Profile) -> bool:
    """True when one of the profile's exclusion terms matches the paper (§5 `-term`)."""
    if not profile.negatives:
        return False
    document = matching.make_document(paper.title, paper.abstract, paper.authors, paper.categories)
    # The profile's own matcher with the exclusions alone, read as positive terms.
    as_positive = matching.Profile(tuple(replace(t, negative=False) for t in profile.negatives))
    return matching.match(as_positive, document) is not None


_ZERO = np.zeros(256, dtype=np.float32)


def _stack(rows: list[np.ndarray]) -> np.ndarray:
    return (
        np.vstack(rows).astype(np.float32, copy=False) if rows else np.zeros((0, 256), np.float32)
    )
