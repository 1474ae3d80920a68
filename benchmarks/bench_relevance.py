"""Benchmark: does relevance learn? Precision and recall of Top matches + You may also like.

The judged set is benchmarks/relevance/ (LABELS.md: the interests, their keyword profiles and the
labelling rule, written before scoring; labels.json). For each interest, a simulated reader rates
every keyword match of day 1 by the labels (relevant → More like this, else Less like this); day 2
is then composed with digest.relevance exactly as a digest is (`arrange`'s rules: unwanted keyword
matches move to "Also matched", up to 5 suggestions among papers no keyword matched), and scored
against the labels, beside keywords alone. Thresholds are chosen on day 1 (leave-one-out over the
rated papers for the margin; day-1 papers no keyword matched for the suggestion threshold).

    .venv/bin/python -m benchmarks.bench_relevance [--model wordllama|lexical|blend]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.relevance.corpus import corpus, day_of
from digest import matching
from digest.relevance import score
from digest.relevance.model import embedder, paper_text

HERE = Path(__file__).parent / "relevance"
PROFILES = {
    "rl-llm": "reinforcement learning, reward model*, policy optimization, GRPO, RLHF",
    "sw-testing": "software testing, test generation, test case*, metamorphic testing, "
    "mutation testing, flaky",
    "llm-agents": "LLM agent*, agentic, computer-use, tool use, multi-agent",
    "robotics": "robot*, manipulation, grasp*, VLA, humanoid",
    "translation": "machine translation, multilingual, low-resource language*",
    "condensed-matter": "Luttinger liquid, superfluid*, quantum Monte Carlo, bosons, "
    "square lattice",
    "medical-ml": "medical imag*, clinical, MRI, segmentation, diagnosis",
    "efficient-llm": "quantization, speculative decoding, KV cache, mixture-of-experts, inference",
}


def lexical(texts: list[str], dim: int = 4096) -> np.ndarray:
    """Hashed, sublinear-tf, idf-weighted bag of folded words (the matcher's own words)."""
    docs = [matching.text.words(text) for text in texts]
    counts = np.zeros((len(texts), dim), dtype=np.float32)
    for row, words in enumerate(docs):
        for word in words:
            if len(word) > 2:
                counts[row, hash(word) % dim] += 1
    df = (counts > 0).sum(axis=0)
    idf = np.log((1 + len(texts)) / (1 + df)) + 1
    vectors = np.log1p(counts) * idf
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)


def vectors_for(kind: str, texts: list[str]) -> np.ndarray:
    """The representation under test, rows L2-normalized."""
    if kind == "lexical":
        return lexical(texts)
    semantic = embedder().embed(texts)
    if kind == "wordllama":
        return semantic
    blend = np.hstack([semantic, lexical(texts)]) / np.sqrt(2)
    return blend.astype(np.float32)


def run(kind: str) -> dict[str, object]:
    """Precision/recall on day 2, keywords alone and with relevance, micro-averaged."""
    papers = corpus()
    labels = {k: set(v) for k, v in json.loads((HERE / "labels.json").read_text()).items()}
    started = time.perf_counter()
    vectors = vectors_for(kind, [paper_text(p.title, p.abstract) for p in papers])
    embed_seconds = time.perf_counter() - started
    docs = [matching.make_document(p.title, p.abstract, p.authors, p.categories) for p in papers]
    days = np.array([day_of(p) for p in papers])
    per_interest = {}
    for interest, keywords in PROFILES.items():
        profile = matching.parse_profile(keywords)
        matched = np.array([matching.match(profile, d) is not None for d in docs])
        relevant = np.array([p.key in labels[interest] for p in papers])
        per_interest[interest] = (matched, relevant)
    margin, minimum = choose_thresholds(vectors, days, per_interest)
    totals = {"kw": [0, 0, 0], "rel": [0, 0, 0]}  # selected, selected & relevant, relevant
    rows = []
    for interest, (matched, relevant) in per_interest.items():
        chosen = select(vectors, days, matched, relevant, margin, minimum)
        day2 = days == 2
        keyword_only = matched & day2
        for name, picked in (("kw", keyword_only), ("rel", chosen)):
            totals[name][0] += int(picked.sum())
            totals[name][1] += int((picked & relevant).sum())
            totals[name][2] += int((relevant & day2).sum())
        rows.append((interest, _pr(keyword_only, relevant & day2), _pr(chosen, relevant & day2)))
    return {
        "model": kind,
        "embed_seconds": embed_seconds,
        "margin": margin,
        "also_like_min": minimum,
        "keywords": _ratio(totals["kw"]),
        "relevance": _ratio(totals["rel"]),
        "per_interest": rows,
    }


def _reader(vectors: np.ndarray, liked: np.ndarray, disliked: np.ndarray) -> score.Reader:
    li, di = np.flatnonzero(liked), np.flatnonzero(disliked)
    return score.Reader(tuple(map(int, li)), vectors[li], tuple(map(int, di)), vectors[di])


def _suggest(reader, result, pool, floor, gap):  # type: ignore[no-untyped-def]
    sub = score.Fit(result.like[pool], result.dislike[pool], result.nearest[pool])
    minimum = score.calibrated_minimum(reader, floor)
    return pool[score.also_like(sub, minimum=minimum, margin=gap)]


def select(vectors, days, matched, relevant, margin, minimum):  # type: ignore[no-untyped-def]
    """Top matches + You may also like on day 2, after rating day 1's keyword matches."""
    rated = matched & (days == 1)
    reader = _reader(vectors, rated & relevant, rated & ~relevant)
    day2 = days == 2
    if reader.empty:
        return matched & day2
    result = score.fit(reader, vectors)
    top = matched & day2 & ~score.unwanted(result, margin)
    pool = np.flatnonzero(day2 & ~matched)
    chosen = top.copy()
    chosen[_suggest(reader, result, pool, *minimum)] = True
    return chosen


def choose_thresholds(vectors, days, per_interest):  # type: ignore[no-untyped-def]
    """Margin by leave-one-out over day 1's ratings; suggestion threshold on day 1's non-matches."""
    best = (-1.0, 0.0)
    for margin in np.arange(-0.10, 0.101, 0.01):
        f = _loo_f1(vectors, days, per_interest, float(margin))
        if f > best[0] + 1e-9:
            best = (f, float(margin))
    margin = best[1]
    # Suggestions: the (floor, gap) that makes the most right suggestions on day 1 while every
    # one of them is right (precision 1 on the day the thresholds are chosen); ties: higher bars.
    best_pick = (-1, (1.0, 1.0))
    for floor in np.arange(0.40, 0.801, 0.05):
        for gap in np.arange(0.0, 0.301, 0.025):
            hits = picks = 0
            for matched, relevant in per_interest.values():
                rated = matched & (days == 1)
                reader = _reader(vectors, rated & relevant, rated & ~relevant)
                if reader.empty:
                    continue
                result = score.fit(reader, vectors)
                picked = _suggest(
                    reader, result, np.flatnonzero((days == 1) & ~matched), floor, gap
                )
                picks += len(picked)
                hits += int(relevant[picked].sum())
            if hits == picks and hits > best_pick[0]:
                best_pick = (hits, (round(float(floor), 3), round(float(gap), 3)))
    return margin, best_pick[1]


def _loo_f1(vectors, days, per_interest, margin):  # type: ignore[no-untyped-def]
    tp = fp = fn = 0
    for matched, relevant in per_interest.values():
        rated = np.flatnonzero(matched & (days == 1))
        for i in rated:
            others = rated[rated != i]
            liked = np.zeros(len(days), bool)
            disliked = np.zeros(len(days), bool)
            liked[others[relevant[others]]] = True
            disliked[others[~relevant[others]]] = True
            reader = _reader(vectors, liked, disliked)
            keep = True
            if not reader.empty:
                keep = not bool(score.unwanted(score.fit(reader, vectors[i : i + 1]), margin)[0])
            tp += keep and relevant[i]
            fp += keep and not relevant[i]
            fn += (not keep) and relevant[i]
    return 2 * tp / max(1, 2 * tp + fp + fn)


def _pr(picked: np.ndarray, relevant: np.ndarray) -> tuple[float, float]:
    hit = int((picked & relevant).sum())
    return (hit / max(1, int(picked.sum())), hit / max(1, int(relevant.sum())))


def _ratio(total: list[int]) -> dict[str, float]:
    selected, hit, relevant = total
    return {
        "precision": hit / max(1, selected),
        "recall": hit / max(1, relevant),
        "selected": selected,
    }


def main() -> None:
    """Print the figures for the chosen representation."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=("wordllama", "lexical", "blend"), default="wordllama")
    args = parser.parse_args()
    result = run(args.model)
    for interest, kw, rel in result.pop("per_interest"):  # type: ignore[attr-defined]
        print(
            f"{interest:18} keywords P={kw[0]:.2f} R={kw[1]:.2f}   "
            f"relevance P={rel[0]:.2f} R={rel[1]:.2f}"
        )
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
