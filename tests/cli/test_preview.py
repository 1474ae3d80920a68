"""`digest preview`: what keywords would bring, ranked, uncapped, through the email templates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.db import utcnow
from digest.models import Paper


def store(sessions, key: str, title: str, abstract: str, age: timedelta, **fields) -> None:
    """A stored paper first seen `age` ago."""
    seen = utcnow() - age
    with sessions.begin() as session:
        session.add(
            Paper(
                key=key,
                arxiv_id=key,
                title=title,
                abstract=abstract,
                authors=fields.pop("authors", ["Ada Lovelace"]),
                categories=["cs.RO"],
                url=f"https://arxiv.org/abs/{key}",
                first_seen_at=seen,
                last_seen_at=seen,
                last_changed_at=seen,
                **fields,
            )
        )


@pytest.fixture
def papers(sessions) -> None:
    day = timedelta(days=1)
    store(sessions, "2611.00001", "Robot juggling", "We juggle with diffusion.", day)
    store(sessions, "2611.00002", "Diffusion for robots", "Robots learn.", 2 * day, upvotes=7)
    store(sessions, "2611.00003", "Protein folding", "Nothing about machines.", day)
    store(sessions, "2611.00004", "Old robot survey", "An old one about diffusion.", 10 * day)
    store(sessions, "2611.00005", r"$\mathcal{B}$-Coder <script>x</script> robots", "", day)


def run(cli_env, *args: str):
    return CliRunner().invoke(main, ["preview", *args], env=cli_env, catch_exceptions=False)


def test_preview_prints_matching_papers_of_the_last_week_ranked_as_text(cli_env, papers) -> None:
    result = run(cli_env, "--keywords", "diffusion, robot*")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "3 new papers for you" in out and "(preview)" in out
    assert out.index("Diffusion for robots") < out.index("Robot juggling")  # more terms first
    assert "Page: https://arxiv.org/abs/2611.00002" in out
    assert "Protein folding" not in out and "Old robot survey" not in out
    assert "<" not in out.replace("<script>x</script>", "")  # plain text, title shown as typed


def test_preview_days_widens_the_window(cli_env, papers) -> None:
    result = run(cli_env, "--keywords", "survey", "--days", "30")
    assert result.exit_code == 0 and "Old robot survey" in result.output
    assert "1 new paper for you" in result.output


def test_preview_html_uses_the_email_template_and_escapes_titles(cli_env, papers) -> None:
    result = run(cli_env, "--keywords", "robot*", "--format", "html")
    assert result.exit_code == 0
    assert result.output.startswith("<!DOCTYPE html>")
    assert r"$\mathcal{B}$-Coder &lt;script&gt;x&lt;/script&gt;" in result.output
    assert "<script>" not in result.output
    assert "nothing was sent" in result.output and "/unsubscribe/" not in result.output


def test_preview_shows_every_match_without_the_email_cap(cli_env, sessions) -> None:
    for i in range(30):
        store(sessions, f"2611.1{i:04d}", f"Robot paper {i}", "robots", timedelta(hours=i + 1))
    result = run(cli_env, "--keywords", "robot", "--days", "7")
    assert result.exit_code == 0
    assert "30 new papers for you" in result.output
    assert result.output.count("Page: https://arxiv.org/abs/") == 30
    assert "more matching" not in result.output


def test_preview_with_no_match_says_so_and_succeeds(cli_env, papers) -> None:
    result = run(cli_env, "--keywords", "quantum chromodynamics")
    assert result.exit_code == 0
    assert result.output == "no stored paper of the last 7 days matches these keywords\n"


def test_preview_names_a_bad_term_in_one_line_and_exits_2(cli_env, papers) -> None:
    result = run(cli_env, "--keywords", 'robots, "unclosed')
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert len(error_lines) == 1 and "unclosed" in error_lines[0]


def test_preview_help_names_the_default_format(cli_env) -> None:
    result = CliRunner().invoke(main, ["preview", "--help"], env=cli_env)
    assert result.exit_code == 0
    assert "[default: text]" in result.output and "--days" in result.output
