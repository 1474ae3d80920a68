"""`digest fetch`: one line per source, failures named, non-zero exit when any failed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from digest.cli import main
from digest.models import Paper

RSS = "arxiv-rss-cs.CL-2026-04-27-excerpt.xml"
HF = "hf-daily-papers-2026-07-31.json"


def run(cli_env: dict[str, str], *args: str):
    return CliRunner().invoke(main, ["fetch", *args], env=cli_env)


def test_fetch_prints_one_line_per_source(sessions, cli_env, feeds_dir) -> None:
    rss, hf = str(feeds_dir / RSS), str(feeds_dir / HF)
    result = run(cli_env, rss, hf)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"{rss}: 3 new, 0 updated, 0 unchanged",
        f"{hf}: 30 new, 0 updated, 0 unchanged",
    ]
    again = run(cli_env, rss)
    assert again.output == f"{rss}: 0 new, 0 updated, 3 unchanged\n"


def test_a_failing_source_is_named_with_its_reason_and_the_exit_is_1(
    sessions, cli_env, feeds_dir, tmp_path
) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_bytes((feeds_dir / RSS).read_bytes()[:2500])
    error = str(feeds_dir / "arxiv-api-atom-2026-04-12-id_list-abc-http400-error.xml")
    good = str(feeds_dir / HF)
    result = run(cli_env, str(broken), error, good)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 3 and "Traceback" not in result.output
    assert lines[0].startswith(f"{broken}: failed: malformed XML at line ")
    assert lines[1] == (
        f'{error}: failed: the arXiv API answered with an error: "incorrect id format for abc"'
    )
    assert lines[2] == f"{good}: 30 new, 0 updated, 0 unchanged"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Paper)) == 30


def test_without_arguments_the_configured_feeds_are_fetched(sessions, cli_env, feeds_dir) -> None:
    feeds = f"{feeds_dir / RSS},{feeds_dir / HF}"
    result = run({**cli_env, "DIGEST_FEEDS": feeds})
    assert result.exit_code == 0, result.output
    assert [line.split(": ")[0] for line in result.output.splitlines()] == feeds.split(",")


def test_an_unmigrated_database_asks_for_db_upgrade(cli_env, feeds_dir, tmp_path) -> None:
    env = {**cli_env, "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"}
    result = run(env, str(feeds_dir / RSS))
    assert result.exit_code == 1
    assert "digest db upgrade" in result.output and "Traceback" not in result.output


def test_the_installed_command_fetches_a_fixture(sessions, cli_env, feeds_dir) -> None:
    digest = Path(sys.executable).parent / "digest"
    env = {**os.environ, **cli_env}
    upgrade = subprocess.run(
        [str(digest), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60
    )
    assert upgrade.returncode == 0, upgrade.stderr
    path = str(feeds_dir / "arxiv-rss-cs.LG+cs.AI+cs.CL+stat.ML-2026-09-24-excerpt.xml")
    done = subprocess.run(
        [str(digest), "fetch", path], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{path}: 4 new, 0 updated, 0 unchanged\n"
