"""Liked papers that are not stored yet, looked up through the arXiv API outside any request.

`lookup_pending` takes the pending ids (a batch of at most LOOKUP_BATCH), asks the API for them
in one `id_list` query through the ordinary ingest path (timeouts, User-Agent, parsing by
digest.feeds, storing by digest.papers, an API error entry recorded as the source's failure),
then marks each liked paper found or not found. A failed request leaves them pending for the
next run. The scheduler's fetch job and `digest fetch` call it.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

import httpx
from sqlalchemy import select

from digest.feeds.fetch import make_client
from digest.models import LikedPaper, Paper
from digest.papers import ingest
from digest.services import Services

LOOKUP_BATCH = 50


def lookup_pending(
    services: Services, *, now: datetime, client: httpx.Client | None = None
) -> tuple[int, int]:
    """Look up pending liked papers; (found, not found). Network failures keep them pending."""
    with services.sessions.begin() as session:
        ids = sorted(
            set(
                session.scalars(
                    select(LikedPaper.arxiv_id)
                    .where(LikedPaper.status == "pending")
                    .limit(LOOKUP_BATCH)
                )
            )
        )
    if not ids:
        return 0, 0
    query = urlencode({"id_list": ",".join(ids), "max_results": len(ids)})
    url = f"{services.settings.arxiv_api_url}?{query}"
    http = client or make_client()
    try:
        result = ingest.ingest_source(services, url, now=now, client=http)
    finally:
        if client is None:
            http.close()
    answered = result.counts is not None or "no results" in (result.error or "")
    return _resolve(services, ids, answered=answered or _is_bad_id(result.error))


def _is_bad_id(error: str | None) -> bool:
    """The API's error entry for a malformed id (e.g. "incorrect id format"): a definite no."""
    return error is not None and "incorrect id" in error


def _resolve(services: Services, ids: list[str], *, answered: bool) -> tuple[int, int]:
    found = not_found = 0
    with services.sessions.begin() as session:
        papers = {
            p.arxiv_id: p for p in session.scalars(select(Paper).where(Paper.arxiv_id.in_(ids)))
        }
        for row in session.scalars(
            select(LikedPaper).where(LikedPaper.arxiv_id.in_(ids), LikedPaper.status == "pending")
        ):
            paper = papers.get(row.arxiv_id)
            if paper is not None:
                row.paper_id, row.title, row.status = paper.id, paper.title, "found"
                found += 1
            elif answered:
                row.status = "not_found"
                not_found += 1
    return found, not_found
