"""One subscriber's digest in the three parts of SPEC §10, and the per-run state that keeps it
cheap.

`Relevance` lives for one composing run. `readers()` loads, in one query per batch, the liked and
rated papers of the batch's subscribers and their vectors; subscribers who liked and rated
nothing are simply absent, so their digests cost one dictionary miss. `arrange()` is the single
call composing makes per digest: keyword matches (already ranked by §5) in, `Parts` out.
The window's paper matrix is built once per run from the stored vectors (`_matrix`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from digest import matching
from digest.models import LikedPaper, Paper, Rating
from digest.relevance import score
from digest.relevance.embeddings import load_vectors
from digest.relevance.model import DEFAULT_MODEL

NO_MATCH = matching.Match(terms=(), in_title=False)  # a "You may also like" paper's ledger row
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
class ReaderState:
    """A reader's liked and disliked papers with vectors, and the liked papers' titles."""

    reader: score.Reader
    titles: dict[int, str]


class Relevance:
    """Per-run scoring state: the model's name, the vectors of the window's papers."""

    def __init__(self, *, enabled: bool, model: str = DEFAULT_MODEL) -> None:
        self.enabled = enabled
        self.model = model
        self._vectors: dict[int, np.ndarray] = {}

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
        """The vectors of `papers` as rows (zeros for a paper without one); cached per run."""
        missing = [paper.id for paper in papers if paper.id not in self._vectors]
        if missing:
            found = load_vectors(session, self.model, missing)
            for paper_id in missing:
                self._vectors[paper_id] = found.get(paper_id, _ZERO)
        return _stack([self._vectors[paper.id] for paper in papers])

    def arrange(
        self,
        session: Session,
        state: ReaderState | None,
        matched: list[Pair],
        window: Iterable[Paper],
        profile: matching.Profile,
    ) -> Parts:
        """The digest's parts. Without a reader state (nothing liked or rated): all Top matches."""
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
        self._suggest(session, state, parts, matched, window, profile)
        return parts

    def _suggest(
        self,
        session: Session,
        state: ReaderState,
        parts: Parts,
        matched: list[Pair],
        window: Iterable[Paper],
        profile: matching.Profile,
    ) -> None:
        """Up to 5 window papers no keyword matched, close to a liked one, none excluded."""
        if not state.reader.liked_ids:
            return
        taken = {paper.id for paper, _ in matched} | set(state.reader.liked_ids)
        taken |= set(state.reader.disliked_ids)
        pool = [paper for paper in window if paper.id not in taken]
        if not pool:
            return
        result = score.fit(state.reader, self.matrix(session, pool))
        minimum = score.calibrated_minimum(state.reader)
        for index in score.also_like(result, minimum=minimum, limit=len(pool)):
            paper = pool[index]
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
