"""`digest preview --like/--dislike` and `digest papers embed`, on the real fixture feeds."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from digest.cli import main
from digest.db import utcnow
from digest.feeds import parse_feed
from digest.models import PaperEmbedding
from digest.papers.store import store_papers

FEED = "arxiv-rss1-rdf-cs-2018-08-30.xml"


def run(cli_env, *args: str):
    return CliRunner().invoke(main, list(args), env=cli_env, catch_exceptions=False)


def test_embed_then_preview_in_three_parts(cli_env, services, feeds_dir: Path) -> None:
    papers = parse_feed((feeds_dir / FEED).read_bytes(), FEED)
    with services.sessions.begin() as session:
        store_papers(session, papers, source=FEED, now=utcnow())
    assert run(cli_env, "papers", "embed").output == f"embedded {len(papers)}\n"
    assert run(cli_env, "papers", "embed").output == "embedded 0\n"  # once per paper and model
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(PaperEmbedding)) == len(papers)

    plain = run(cli_env, "preview", "--keywords", "testing")
    assert "Top matches" not in plain.output  # no like, no dislike: as §5 and §6
    arranged = run(
        cli_env, "preview", "--keywords", "testing",
        "--like", "1808.10104", "--dislike", "https://arxiv.org/abs/1707.07821v2",
    )  # fmt: skip
    out = arranged.output
    assert "You may also like" in out and "Also matched your keywords" in out
    # the rated-down paper (a keyword match) is kept, one line, in the last part
    assert out.index("Also matched your keywords") < out.index("Concept Drift Detection")
    assert 'Why it is here: like "Modeling OWL with Rules: The ROWL Protege Plugin"' in out
    html = run(cli_env, "preview", "--keywords", "testing", "--like", "1808.10104",
               "--format", "html").output  # fmt: skip
    assert "You may also like" in html and "like this" not in html  # a preview has no links
    bad = CliRunner().invoke(
        main, ["preview", "--keywords", "x", "--like", "nonsense"], env=cli_env
    )
    assert bad.exit_code == 2 and "nonsense" in bad.output
