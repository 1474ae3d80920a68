"""Benchmark: digests rendered per second on one core, with and without the fragment cache.

Digests are real: profiles from the ML vocabulary matched (through ProfileIndex) against 2,000
generated papers, each digest its profile's ten best papers, as `digests.Composer` builds them.

    .venv/bin/python -m benchmarks.bench_render [--digests 2000 --papers 2000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

from benchmarks import datagen
from benchmarks.datagen import Row
from benchmarks.vocabulary import make_profiles
from digest import matching
from digest.mail.mailer import build_message
from digest.mail.render import DigestEntry, DigestLinks, Renderer, entry_for, rank_entries
from digest.tokens import Tokens, digest_url, subscriber_links

PAPERS_PER_DIGEST = 10
DAY = date(2026, 11, 26)
Sample = tuple[list[DigestEntry], DigestLinks, str]


def sample_digests(count: int, rng: random.Random, papers: int = 2000) -> list[Sample]:
    """`count` digests (entries, links, keywords) for distinct generated subscribers."""
    stored = datagen.stored_papers(papers, rng, datagen.bench_now())
    documents = [
        matching.make_document(p.title, p.abstract, p.authors, p.categories) for p in stored
    ]
    tokens = Tokens("benchmark-secret-key-0123456789")
    base = "https://digest.example.org"
    samples: list[Sample] = []
    while len(samples) < count:
        texts = make_profiles(max(100, count - len(samples)), rng)
        profiles = [matching.parse_profile(text) for text in texts]
        index = matching.ProfileIndex()
        for number, profile in enumerate(profiles):
            index.add(number, profile)
        for key, found in index.match_all(documents).items():
            if len(samples) == count:
                break
            position = int(str(key))
            profile = profiles[position]
            # The ten best by digest order (what is shown), found without highlighting the rest.
            found = sorted(
                found,
                key=lambda pair: matching.rank_key(
                    pair[1], stored[pair[0]].upvotes, stored[pair[0]].published_at
                ),
            )
            top = found[:PAPERS_PER_DIGEST]
            entries = rank_entries([entry_for(stored[d], m, profile) for d, m in top])
            holder = SimpleNamespace(id=len(samples) + 1, token_nonce=f"{rng.getrandbits(64):016x}")
            links = subscriber_links(base, tokens, holder)
            browser = digest_url(base, tokens, holder, len(samples) + 1)
            samples.append(
                (entries, DigestLinks(links.manage, links.unsubscribe, browser), texts[position])
            )
    return samples


def _render_all(renderer: Renderer, samples: list[Sample], *, cold: bool = False) -> float:
    """Seconds to render every sample once; `cold` empties the fragment cache before each."""
    started = time.perf_counter()
    for entries, links, keywords in samples:
        if cold:
            renderer._fragment.cache_clear()  # type: ignore[attr-defined]
        renderer.digest(entries, total=len(entries), day=DAY, keywords=keywords, links=links)
    return time.perf_counter() - started


def run(digests: int = 2000, papers: int = 2000) -> list[Row]:
    """Render `digests` distinct digests: as production does, again warm, and cold."""
    samples = sample_digests(digests, random.Random(3), papers)
    shown = sum(len(entries) for entries, _, _ in samples) / len(samples)
    with tempfile.TemporaryDirectory() as tmp:
        settings = datagen.bench_settings("sqlite://", Path(tmp))
        renderer = Renderer(settings)
        first = _render_all(renderer, samples)  # one Renderer per run, its cache filling up
        warm = _render_all(renderer, samples)
        cold = _render_all(Renderer(settings), samples, cold=True)
        emails = [
            renderer.digest(e, total=len(e), day=DAY, keywords=k, links=links)
            for e, links, k in samples
        ]
        started = time.perf_counter()
        for i, ((_, links, _), email) in enumerate(zip(samples, emails, strict=True)):
            build_message(
                settings,
                to_addr=f"reader{i}@example.org",
                subject=email.subject,
                text=email.text,
                html=email.html,
                message_key=f"bench:{i}",
                unsubscribe_url=links.unsubscribe,
            )
        serialize = time.perf_counter() - started
    scenario = f"{digests:,} digests of {shown:.1f} papers from {papers:,} papers, one core"
    target = "≥ 1,000 digests/s/core"
    return [
        Row(
            "rendering",
            f"{scenario}, as in production (cache filling)",
            f"{digests / first:,.0f} digests/s",
            target,
            datagen.verdict(digests / first >= 1000),
        ),
        Row(
            "rendering",
            f"{scenario}, warm fragment cache",
            f"{digests / warm:,.0f} digests/s",
            target,
            datagen.verdict(digests / warm >= 1000),
        ),
        Row(
            "rendering", f"{scenario}, cold (no fragment cache)", f"{digests / cold:,.0f} digests/s"
        ),
        Row(
            "rendering",
            "serializing those digests as MIME messages (build_message)",
            f"{digests / serialize:,.0f} messages/s",
        ),
    ]


def main() -> None:
    """Command line: print the rows."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--digests", type=int, default=2000)
    parser.add_argument("--papers", type=int, default=2000)
    args = parser.parse_args()
    print(datagen.table(run(args.digests, args.papers)))


if __name__ == "__main__":
    main()
