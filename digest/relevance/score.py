"""Per-reader scoring, pure numpy: how close a paper is to what the reader liked and disliked.

A reader is the vectors of the papers they liked (on the form) or rated *More like this* and of
those they rated *Less like this*. A paper's fit is its cosine to the nearest liked paper minus
its cosine to the nearest disliked one (nearest neighbours, not a centroid: a reader's interests
are often several, and a centroid of two fields sits in neither). This margin calibrates itself
per reader: a keyword match is *unwanted* when it is closer to something the reader disliked than
to anything they liked by more than UNWANTED_MARGIN, whatever the scale of that reader's scores.
"You may also like" takes papers no keyword matched that are as close to a liked paper as the
reader's liked papers are to each other (`calibrated_minimum`, at least ALSO_LIKE_MIN) and
ALSO_LIKE_MARGIN closer to it than to anything disliked. The constants were chosen on day 1 of
the judged set (benchmarks/bench_relevance.py: leave-one-out for the margin, no wrong suggestion
on day 1 for the suggestion bars) and checked on day 2.

Cost: one (papers x liked) and one (papers x disliked) matrix product per reader, over the
papers of their window only; a reader with no likes and no ratings costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNWANTED_MARGIN = 0.05
ALSO_LIKE_MIN = 0.55
ALSO_LIKE_MARGIN = 0.275
ALSO_LIKE_MAX = 5  # SPEC §10: at most 5 papers under "You may also like"
FIT_WEIGHT = 1.0  # weight of the fit against the keyword evidence when ranking Top matches


@dataclass(frozen=True)
class Reader:
    """What a reader liked and disliked: paper ids with their vectors (rows L2-normalized)."""

    liked_ids: tuple[int, ...]
    liked: np.ndarray  # (k, d)
    disliked_ids: tuple[int, ...]
    disliked: np.ndarray  # (m, d)

    @property
    def empty(self) -> bool:
        """True when there is nothing to learn from: the digest stays as keywords make it."""
        return not self.liked_ids and not self.disliked_ids


@dataclass(frozen=True)
class Fit:
    """Scores of n papers for one reader."""

    like: np.ndarray  # (n,) cosine to the nearest liked paper (-1 without likes)
    dislike: np.ndarray  # (n,) cosine to the nearest disliked paper (-1 without dislikes)
    nearest: np.ndarray  # (n,) index into reader.liked_ids of the nearest liked paper (-1: none)

    @property
    def margin(self) -> np.ndarray:
        """Nearest liked minus nearest disliked: > 0 leans towards what the reader liked."""
        return self.like - self.dislike


def fit(reader: Reader, papers: np.ndarray) -> Fit:
    """How each row of `papers` (n, d) sits between the reader's liked and disliked papers."""
    n = papers.shape[0]
    like = np.full(n, -1.0, dtype=np.float32)
    nearest = np.full(n, -1, dtype=np.int64)
    dislike = np.full(n, -1.0, dtype=np.float32)
    if n and reader.liked.shape[0]:
        sims = papers @ reader.liked.T
        nearest = sims.argmax(axis=1)
        like = sims[np.arange(n), nearest]
    if n and reader.disliked.shape[0]:
        dislike = (papers @ reader.disliked.T).max(axis=1)
    return Fit(like=like, dislike=dislike, nearest=nearest)


def unwanted(result: Fit, margin: float = UNWANTED_MARGIN) -> np.ndarray:
    """Boolean mask: papers closer to a disliked paper than to any liked one (by `margin`)."""
    has_dislikes = result.dislike > -1.0
    return has_dislikes & (result.dislike - result.like > margin)


def calibrated_minimum(reader: Reader, floor: float = ALSO_LIKE_MIN) -> float:
    """The reader's own bar for a suggestion: as close to a liked paper as their liked papers
    typically are to each other (the median of their pairwise cosines), and never below `floor`.
    A reader of one narrow field gets a high bar, a reader of several a lower one."""
    k = reader.liked.shape[0]
    if k < 2:
        return floor
    sims = reader.liked @ reader.liked.T
    return max(floor, float(np.median(sims[~np.eye(k, dtype=bool)])))


def also_like(
    result: Fit,
    *,
    minimum: float = ALSO_LIKE_MIN,
    margin: float = ALSO_LIKE_MARGIN,
    limit: int = ALSO_LIKE_MAX,
) -> list[int]:
    """Indices of papers to suggest, closest first: at least `minimum` close to a liked paper
    and at least `margin` closer to it than to anything disliked."""
    ok = (result.like >= minimum) & (result.like - result.dislike >= margin)
    candidates = np.flatnonzero(ok)
    order = candidates[np.argsort(-result.like[candidates], kind="stable")]
    return [int(i) for i in order[:limit]]
