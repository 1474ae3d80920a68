"""`digest admin password`: typed twice at a terminal or piped in once, stored hashed (SPEC §12)."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from digest.cli import main
from digest.models import AdminCredential
from digest.operate.password import verify

PASSWORD = "correct horse battery staple"


def stored(sessions) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(AdminCredential.password_hash)))


def run(cli_env, stdin: str):
    return CliRunner().invoke(main, ["admin", "password"], input=stdin, env=cli_env)


def test_a_password_from_standard_input_is_stored_hashed(cli_env, sessions):
    result = run(cli_env, PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "dashboard password set" in result.output
    [hashed] = stored(sessions)
    assert PASSWORD not in hashed and hashed.startswith("scrypt:")
    assert verify(hashed, PASSWORD) and not verify(hashed, PASSWORD[:-1])


def test_setting_it_again_replaces_the_one_row(cli_env, sessions):
    run(cli_env, PASSWORD + "\n")
    assert run(cli_env, "another long passphrase\r\n").exit_code == 0
    [hashed] = stored(sessions)
    assert verify(hashed, "another long passphrase") and not verify(hashed, PASSWORD)


def test_a_short_password_is_refused_in_one_sentence_and_nothing_is_stored(cli_env, sessions):
    result = run(cli_env, "short\n")
    assert result.exit_code == 1
    assert "at least 12 characters" in result.output
    assert stored(sessions) == []


def test_at_a_terminal_it_asks_twice_and_refuses_two_different_answers(
    cli_env, sessions, monkeypatch
):
    answers = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr("digest.cli.admin._is_terminal", lambda: True)
    result = CliRunner().invoke(main, ["admin", "password"], env=cli_env)
    assert result.exit_code == 1 and "differ" in result.output
    assert stored(sessions) == []
    answers = iter([PASSWORD, PASSWORD])
    result = CliRunner().invoke(main, ["admin", "password"], env=cli_env)
    assert result.exit_code == 0, result.output
    assert verify(stored(sessions)[0], PASSWORD)
