"""SPEC §10 end to end on real fixture feeds and the real model: rate a digest, get a better one."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from sqlalchemy import func, select
from web_support import csrf_from, make_app

from digest.compose.digests import compose_due
from digest.compose.stored import digest_papers, stored_matches
from digest.feeds import parse_feed
from digest.models import (
    Digest,
    LikedPaper,
    OutboxMessage,
    Paper,
    Rating,
    Subscriber,
)
from digest.papers.store import store_papers
from digest.pipeline import relevance_step

MON_9 = datetime(2026, 6, 1, 9, tzinfo=UTC)
TUE_7 = datetime(2026, 6, 2, 7, tzinfo=UTC)
TUE_12 = datetime(2026, 6, 2, 12, tzinfo=UTC)
WED_7 = datetime(2026, 6, 3, 7, tzinfo=UTC)
DAY1 = "arxiv-api-atom-2026-04-12-search-testing-max100.xml"
DAY2 = "arxiv-rss1-rdf-cs-2018-08-30.xml"


LIKED = "1808.10104"  # "Modeling OWL with Rules: The ROWL Protege Plugin" (in DAY2's feed)


def store_fixture(services, feeds_dir: Path, name: str, now: datetime, keep=lambda p: True) -> None:
    papers = [p for p in parse_feed((feeds_dir / name).read_bytes(), name) if keep(p)]
    with services.sessions.begin() as session:
        store_papers(session, papers, source=name, now=now)
    relevance_step(services, now=now)


def latest_email(services, subscriber_id: int):
    with services.sessions() as session:
        row = session.scalars(
            select(OutboxMessage).where(OutboxMessage.subscriber_id == subscriber_id)
            .order_by(OutboxMessage.id.desc())
        ).first()  # fmt: skip
        message = message_from_bytes(row.message, policy=default)
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    return html, text


def rate_links(html: str) -> list[tuple[str, str]]:
    """(kind, path) of every rating link, in order."""
    return [
        (m[2], "/rate/" + m[1])
        for m in re.finditer(
            r'href="http://127\.0\.0\.1:8000/rate/([^"]+)"[^>]*>(More|Less) like this', html
        )
    ]


def test_rating_a_digest_makes_the_next_one_better(services, feeds_dir: Path) -> None:
    store_fixture(services, feeds_dir, DAY1, MON_9)
    # The paper the reader will like is stored on day 1 too; its sibling paper comes on day 2.
    store_fixture(services, feeds_dir, DAY2, MON_9, keep=lambda p: p.arxiv_id == LIKED)
    with services.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Paper)) == 101
        subscriber = Subscriber(
            email="reader@example.org", keywords="testing", token_nonce="n0", status="confirmed",
            confirmed_at=MON_9, created_at=MON_9,
        )  # fmt: skip
        session.add(subscriber)
        session.flush()
        sid = subscriber.id
    compose_due(services, now=TUE_7)
    html, text = latest_email(services, sid)
    assert "Top matches" not in text  # nothing liked or rated yet: the plain §6 digest
    links = rate_links(html)
    assert links and {kind for kind, _ in links} == {"More", "Less"}

    app = make_app(services, clock=lambda: TUE_12)
    client = app.test_client()
    with services.sessions() as session:
        digest = session.scalars(select(Digest).where(Digest.subscriber_id == sid)).one()
        shown = {paper.id: paper for paper in digest_papers(session, digest)}
    # GET changes nothing (mail scanners); a POST without the CSRF token is refused.
    first_more = next(path for kind, path in links if kind == "More")
    page = client.get(first_more)
    assert page.status_code == 200 and "Nothing changes" in page.get_data(as_text=True)
    assert client.post(first_more).status_code == 400
    assert _ratings(services, sid) == {}
    # Forged and tampered tokens are 404s.
    assert client.get("/rate/forged").status_code == 404
    tampered = re.sub(
        r"\.(-?1)\.", lambda m: "." + ("1" if m[1] == "-1" else "-1") + ".", first_more
    )
    assert client.get(tampered).status_code == 404

    # Rate every paper of the digest: software testing up, statistical testing down.
    by_paper = _links_by_paper(services, links)
    for paper_id in sorted({pid for pid, _ in by_paper}):  # the papers the email shows
        paper = shown[paper_id]
        kind = "More" if any(c.startswith("cs.SE") for c in paper.categories) else "Less"
        path = by_paper[(paper_id, kind)]
        token = csrf_from(client.get(path).get_data(as_text=True))
        answer = client.post(path, data={"csrf_token": token})
        assert answer.status_code == 200
        assert "Rate the rest of this digest" in answer.get_data(as_text=True)
    ratings = _ratings(services, sid)
    assert set(ratings.values()) == {1, -1}

    # Re-rating replaces; undo removes.
    some = next(iter(ratings))
    flip = by_paper[(some, "More" if ratings[some] < 0 else "Less")]
    token = csrf_from(client.get(flip).get_data(as_text=True))
    body = client.post(flip, data={"csrf_token": token}).get_data(as_text=True)
    assert "You changed your rating" in body
    assert _ratings(services, sid)[some] == -ratings[some]
    undo = client.post(flip + "/undo", data={"csrf_token": csrf_from(body)})
    assert undo.status_code == 200 and some not in _ratings(services, sid)
    assert client.post(flip + "/undo").status_code == 400  # CSRF on undo too

    # The reader names a paper they like on the manage page (a POST with CSRF, like all forms).
    manage = "/manage/" + re.search(r'http://127\.0\.0\.1:8000/manage/([^"]+)"', html)[1]
    form = client.get(manage).get_data(as_text=True)
    fields = {
        "keywords": "testing",
        "frequency": "daily",
        "weekday": "monday",
        "send_time": "07:00",
        "timezone": "UTC",
        "papers": "https://arxiv.org/abs/1808.10104v1",
    }
    assert client.post(manage, data={**fields, "papers": "banana"}).status_code == 400
    bad = client.post(manage, data={**fields, "papers": "banana", "csrf_token": csrf_from(form)})
    assert bad.status_code == 400 and "&#34;banana&#34; is not an arXiv id" in bad.get_data(
        as_text=True
    )
    saved = client.post(
        manage, data={**fields, "csrf_token": csrf_from(form)}, follow_redirects=True
    )
    assert "Modeling OWL with Rules" in saved.get_data(as_text=True)  # listed by its title

    # Day 2: the next digest is arranged in parts, each paper with its reason.
    store_fixture(services, feeds_dir, DAY2, TUE_12, keep=lambda p: p.arxiv_id != LIKED)
    compose_due(services, now=WED_7)
    html, text = latest_email(services, sid)
    assert "Top matches" in text
    assert "Also matched your keywords" in text  # statistical "testing" papers sank
    assert "Top matches" in html and "Also matched your keywords" in html
    with services.sessions() as session:
        second = session.scalars(
            select(Digest).where(Digest.subscriber_id == sid).order_by(Digest.id.desc())
        ).first()
        assert second is not None and second.parts
        items = {paper.id: match for paper, match in stored_matches(session, second)}
        papers = {paper.id: paper for paper in digest_papers(session, second)}
    summary = json.loads(second.parts)
    sunk = [papers[pid] for pid in summary["also_matched"]]
    assert sunk and all(not any(c.startswith("cs.SE") for c in p.categories) for p in sunk[:3])
    # A close paper no keyword matched is suggested, with the liked paper as its reason, and
    # stored with the digest like every other paper of it (once per paper).
    suggested = {papers[int(pid)].title: reason for pid, reason in summary["also_like"].items()}
    assert "Rule-based OWL Modeling with ROWLTab Protege Plugin" in suggested
    assert set(suggested.values()) == {"Modeling OWL with Rules: The ROWL Protege Plugin"}
    for pid in summary["also_like"]:
        assert items[int(pid)].terms == ()  # re-matched: no keyword matches a suggestion
    assert "You may also like" in text and "You may also like" in html
    assert 'Why it is here: like "Modeling OWL with Rules: The ROWL Protege Plugin"' in text
    assert "Why it is here: like <em>Modeling OWL with Rules: The ROWL Protege Plugin</em>" in html
    # The digest page shows the same parts, with rating links.
    path = "/digest/" + re.search(r'http://127\.0\.0\.1:8000/digest/([^"]+)"', html)[1]
    page = client.get(path).get_data(as_text=True)
    assert "Top matches" in page and "Also matched your keywords" in page
    assert "You may also like" in page and "Why it is here: like" in page
    assert "More like this" in page and "Less like this" in page
    # Once per paper: nothing of digest 1 is in digest 2.
    assert not set(items) & set(shown)
    if os.environ.get("DIGEST_SHOTS"):  # a folder: the pages, for screenshots by hand
        shots = Path(os.environ["DIGEST_SHOTS"])
        (shots / "email.html").write_text(html)
        (shots / "digest-page.html").write_text(client.get(path).get_data(as_text=True))
        (shots / "rate-ask.html").write_text(client.get(flip).get_data(as_text=True))
        token = csrf_from(client.get(flip).get_data(as_text=True))
        rated = client.post(flip, data={"csrf_token": token}).get_data(as_text=True)
        (shots / "rate-done.html").write_text(rated)

    # The export holds the ratings and the liked papers; deleting the data deletes them.
    page = client.get(manage).get_data(as_text=True)
    exported = client.post(manage + "/export", data={"csrf_token": csrf_from(page)}).get_json()
    assert exported["liked_papers"] == [
        {
            "arxiv_id": LIKED,
            "status": "found",
            "title": "Modeling OWL with Rules: The ROWL Protege Plugin",
        }
    ]
    assert len(exported["ratings"]) == len(_ratings(services, sid)) > 0
    client.post(manage + "/delete", data={"csrf_token": csrf_from(page)})
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Rating)) == 0
        assert session.scalar(select(func.count()).select_from(LikedPaper)) == 0


def _ratings(services, sid: int) -> dict[int, int]:
    with services.sessions() as session:
        return {
            r.paper_id: r.value
            for r in session.scalars(select(Rating).where(Rating.subscriber_id == sid))
        }


def _links_by_paper(services, links: list[tuple[str, str]]) -> dict[tuple[int, str], str]:
    """Rating links keyed by (paper id, kind), read from the token (subscriber.nonce.paper…)."""
    return {(int(path.split("/")[-1].split(".")[2]), kind): path for kind, path in links}


def test_relevance_off_gives_the_plain_digest(services, feeds_dir: Path) -> None:
    off = dataclasses.replace(
        services, settings=dataclasses.replace(services.settings, relevance=False)
    )
    store_fixture(off, feeds_dir, DAY1, MON_9)
    with off.sessions.begin() as session:
        assert session.scalar(select(func.count()).select_from(Paper)) == 100
        from digest.models import PaperEmbedding

        assert session.scalar(select(func.count()).select_from(PaperEmbedding)) == 0
        subscriber = Subscriber(
            email="plain@example.org", keywords="testing", token_nonce="n0", status="confirmed",
            confirmed_at=MON_9, created_at=MON_9,
        )  # fmt: skip
        session.add(subscriber)
        session.flush()
        sid = subscriber.id
    compose_due(off, now=TUE_7)
    html, text = latest_email(off, sid)
    assert "like this" not in html and "Top matches" not in text
    with off.sessions() as session:
        [digest] = session.scalars(select(Digest).where(Digest.subscriber_id == sid))
        assert digest.paper_id_list and digest.parts is None
