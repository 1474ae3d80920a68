"""A sample digest as a subscriber would get it: DIGEST_MAX_PAPERS realistic fake papers,
rendered by the real templates and built by the real message builder (for `digest doctor`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from digest.config import Settings
from digest.mail.message import build_message
from digest.mail.render import DigestLinks, Renderer, match_papers
from digest.matching import parse_profile
from digest.tokens import Tokens, digest_url, subscriber_links

KEYWORDS = "language model*, retrieval"
SAMPLE_TO = "reader@example.com"
_ABSTRACT = (
    "Large language models are increasingly paired with retrieval to ground their answers in "
    "documents they were not trained on. We study how the quality of the retrieved passages "
    "affects the factual accuracy of the generated text across twelve benchmarks, and find that "
    "a small reranker trained on synthetic preference data closes most of the gap to an oracle "
    "retriever. We further show that the benefit persists when the language model is scaled from "
    "one to seventy billion parameters, that it transfers across languages with little loss, and "
    "that it costs less than a tenth of the compute spent on generation. Our analysis attributes "
    "the remaining errors to passages that are relevant but outdated, and we release the code, "
    "the data and the trained rerankers to support further work on retrieval-augmented systems."
)


@dataclass
class FakePaper:
    """What the renderer reads from a paper, with lengths typical of an arXiv listing."""

    id: int
    title: str
    abstract: str = _ABSTRACT
    authors: list[str] = field(default_factory=lambda: [f"Author Number{n}" for n in range(9)])
    categories: list[str] = field(default_factory=lambda: ["cs.CL", "cs.IR"])
    url: str | None = None
    pdf_url: str | None = None
    code_url: str | None = "https://github.com/example/retrieval-reranker"
    upvotes: int | None = 42
    published_at: datetime | None = datetime(2026, 12, 1, tzinfo=UTC)
    arxiv_id: str | None = None


@dataclass
class _Holder:
    id: int
    token_nonce: str


def sample_digest(settings: Settings, *, now: datetime) -> bytes:
    """The serialized message of a full digest (the email's cap reached, a "more" link shown)."""
    count = settings.max_papers
    papers = [
        FakePaper(
            id=n, arxiv_id=f"2612.{n:05d}",
            title=f"Retrieval-Augmented Language Models, Revisited: Part {n} of a Long Study",
            url=f"https://arxiv.org/abs/2612.{n:05d}", pdf_url=f"https://arxiv.org/pdf/2612.{n:05d}",
        )
        for n in range(1, count + 1)
    ]
    entries = match_papers(papers, parse_profile(KEYWORDS))
    tokens = Tokens(settings.secret_key)
    holder = _Holder(id=1, token_nonce="sample")  # noqa: S106 (a nonce, not a password)
    links = subscriber_links(settings.base_url, tokens, holder)
    email = Renderer(settings).digest(
        entries, total=count + 5, day=now.date(), keywords=KEYWORDS,
        links=DigestLinks(manage=links.manage, unsubscribe=links.unsubscribe,
                          browser=digest_url(settings.base_url, tokens, holder, 1)),
    )
    return build_message(
        settings, to_addr=SAMPLE_TO, subject=email.subject, text=email.text, html=email.html,
        message_key="doctor:sample", unsubscribe_url=links.unsubscribe, date=now,
    )
