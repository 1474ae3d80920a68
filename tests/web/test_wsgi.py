"""`wsgi.py`: what gunicorn imports; a bad setting stops it with one line naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT


def import_wsgi(env: dict[str, str]):
    return subprocess.run(
        [sys.executable, "-c", "import wsgi; print(type(wsgi.app).__name__)"],
        cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
    )


def test_wsgi_exposes_the_flask_app(cli_env) -> None:
    result = import_wsgi(cli_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Flask"


def test_a_bad_setting_stops_the_wsgi_app_with_one_line(cli_env) -> None:
    result = import_wsgi({**cli_env, "DIGEST_TIMEZONE": "Mars/Olympus"})
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "digest: DIGEST_TIMEZONE is not an IANA timezone name: 'Mars/Olympus'"
    )
