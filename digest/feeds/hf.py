"""The Hugging Face Daily Papers API (JSON): papers with upvotes and code/project links."""

from __future__ import annotations

from typing import Any

from digest.feeds.common import FeedError, PaperIn, build_paper, parse_date, split_arxiv_id
from digest.feeds.text import one_line, plain_text, title_text


def parse_hf(data: Any) -> tuple[str, list[PaperIn]]:
    """Every item of a daily_papers answer: a list of {"paper": {...}} (or of bare papers)."""
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        raise FeedError(f'the server answered with an error: "{one_line(data["error"])}"')
    if not isinstance(data, list):
        raise FeedError("JSON of the wrong shape: expected a list of papers")
    papers = []
    for number, item in enumerate(data, start=1):
        paper = _item(item)
        if paper is None:
            raise FeedError(
                f"JSON of the wrong shape: item {number} is not a paper with an id and a title"
            )
        papers.append(paper)
    return "hf-json", papers


def _item(item: Any) -> PaperIn | None:
    if not isinstance(item, dict):
        return None
    paper = item.get("paper", item)
    if not isinstance(paper, dict):
        return None
    paper_id, title = paper.get("id"), paper.get("title") or item.get("title")
    if not isinstance(paper_id, str) or not paper_id.strip() or not isinstance(title, str):
        return None
    found = split_arxiv_id(paper_id)
    summary = paper.get("summary") or item.get("summary")
    upvotes = paper.get("upvotes")
    return build_paper(
        found=(found[0], None) if found else None,
        fallback_keys=(f"https://huggingface.co/papers/{paper_id.strip()}",),
        link=f"https://huggingface.co/papers/{paper_id.strip()}",
        title=title_text(title),
        abstract=plain_text(summary if isinstance(summary, str) else ""),
        authors=_authors(paper.get("authors")),
        upvotes=upvotes if isinstance(upvotes, int) and not isinstance(upvotes, bool) else None,
        published=parse_date(_str(paper.get("publishedAt"))),
        code_url=_str(paper.get("githubRepo")),
        project_url=_str(paper.get("projectPage")),
    )


def _authors(authors: Any) -> tuple[str, ...]:
    if not isinstance(authors, list):
        return ()
    names = (one_line(_str(a.get("name"))) for a in authors if isinstance(a, dict))
    return tuple(name for name in names if name)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
