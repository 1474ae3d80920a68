"""The `papers` field of the subscribe form: validated next to the field, stored with the
preferences of a new (pending) subscription, and the rating pages 404 with relevance off."""

from __future__ import annotations

import dataclasses
import re

from sqlalchemy import select
from web_support import FORM, make_app, subscribe

from digest.models import LikedPaper, Subscriber


def test_a_malformed_paper_is_an_error_next_to_the_field(services, clock) -> None:
    client = make_app(services, clock).test_client()
    page = subscribe(client, papers="2401.01234, not-a-paper").get_data(as_text=True)
    error = re.search(r'<p class="error" id="papers-error">([^<]*)</p>', page)
    assert error and "not-a-paper" in error[1]
    assert "2401.01234, not-a-paper" in page  # what was typed is shown back
    with services.sessions() as session:
        assert session.scalars(select(Subscriber)).first() is None


def test_liked_papers_are_stored_pending_with_a_new_subscription(services, clock) -> None:
    client = make_app(services, clock).test_client()
    answer = subscribe(client, papers="https://huggingface.co/papers/2401.01234\n2401.01234v3")
    assert answer.status_code == 200
    with services.sessions() as session:
        rows = list(session.scalars(select(LikedPaper)))
    assert [(r.arxiv_id, r.status) for r in rows] == [("2401.01234", "pending")]


def test_rating_pages_are_404_with_relevance_off(services, clock) -> None:
    off = dataclasses.replace(
        services, settings=dataclasses.replace(services.settings, relevance=False)
    )
    client = make_app(off, clock).test_client()
    assert client.get("/rate/1.n0.1.1.1.AAAAAAAAAAAAAAAAAAAAAA").status_code == 404
    assert FORM["email"]
