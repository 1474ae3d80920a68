"""`digest subscribers import|export|list`: validated like the web form, streamed, idempotent."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from digest.cli import main
from digest.models import OutboxMessage, Subscriber

GOOD = '''email,keywords,frequency,timezone,send_time
Ada@Example.org,"diffusion
robot*",daily,Europe/Berlin,07:30
bob@example.org,"""large language model"", -survey",weekly,America/New_York,18:00
'''

BAD_ROWS = """email,keywords,frequency,timezone,send_time
good@example.org,transformers,daily,UTC,07:00
not-an-address,transformers,daily,UTC,07:00
bad-kw@example.org,"title:",daily,UTC,07:00
bad-tz@example.org,robots,daily,Mars/Olympus,07:00
bad-time@example.org,robots,daily,UTC,25:00
"crlf@example.org\r\nBcc: x@y.org",robots,daily,UTC,07:00
also-good@example.org,graph neural network,weekly,Asia/Kolkata,06:15
"""


def run(cli_env: dict[str, str], *args: str, stdin: str | None = None):
    return CliRunner().invoke(main, list(args), env=cli_env, input=stdin)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "subscribers.csv"
    path.write_text(text, encoding="utf-8", newline="")
    return path


def subscribers(sessions) -> dict[str, Subscriber]:
    with sessions() as session:
        return {s.email: s for s in session.scalars(select(Subscriber))}


def test_import_confirmed_stores_rows_and_sends_nothing(sessions, cli_env, tmp_path) -> None:
    result = run(cli_env, "subscribers", "import", str(write(tmp_path, GOOD)), "--confirmed")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "imported 2, updated 0, rejected 0"
    stored = subscribers(sessions)
    assert set(stored) == {"ada@example.org", "bob@example.org"}
    ada = stored["ada@example.org"]
    assert ada.status == "confirmed" and ada.confirmed_at is not None
    assert (ada.frequency, ada.timezone, ada.send_time) == ("daily", "Europe/Berlin", "07:30")
    assert ada.keywords == "diffusion\nrobot*"
    assert stored["bob@example.org"].frequency == "weekly"
    with sessions() as session:
        assert session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_import_without_confirmed_keeps_double_opt_in(sessions, cli_env, tmp_path) -> None:
    result = run(cli_env, "subscribers", "import", str(write(tmp_path, GOOD)))
    assert result.exit_code == 0, result.output
    assert {s.status for s in subscribers(sessions).values()} == {"pending"}
    with sessions() as session:
        kinds = session.scalars(select(OutboxMessage.kind)).all()
        recipients = set(session.scalars(select(OutboxMessage.to_addr)))
    assert kinds == ["confirm", "confirm"]
    assert recipients == {"ada@example.org", "bob@example.org"}


def test_bad_rows_are_named_by_line_and_good_rows_kept(sessions, cli_env, tmp_path) -> None:
    result = run(cli_env, "subscribers", "import", str(write(tmp_path, BAD_ROWS)), "--confirmed")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[-1] == "imported 2, updated 0, rejected 5"
    for line_number, field in [(3, "email"), (4, "keywords"), (5, "timezone"), (6, "send_time")]:
        assert any(ln.startswith(f"line {line_number}: {field}:") for ln in lines), lines
    assert any(ln.startswith("line 7:") for ln in lines)
    assert set(subscribers(sessions)) == {"good@example.org", "also-good@example.org"}


def test_reimport_is_idempotent_and_updates_changed_rows(sessions, cli_env, tmp_path) -> None:
    path = write(tmp_path, GOOD)
    run(cli_env, "subscribers", "import", str(path), "--confirmed")
    again = run(cli_env, "subscribers", "import", str(path), "--confirmed")
    assert again.output.strip() == "imported 0, updated 0, rejected 0"
    changed = write(tmp_path, GOOD.replace("07:30", "08:00"))
    third = run(cli_env, "subscribers", "import", str(changed), "--confirmed")
    assert third.output.strip() == "imported 0, updated 1, rejected 0"
    assert subscribers(sessions)["ada@example.org"].send_time == "08:00"
    assert len(subscribers(sessions)) == 2


def test_import_never_resubscribes_an_unsubscribed_address(sessions, cli_env, tmp_path) -> None:
    path = write(tmp_path, GOOD)
    run(cli_env, "subscribers", "import", str(path), "--confirmed")
    with sessions.begin() as session:
        ada = session.scalars(select(Subscriber).where(Subscriber.email == "ada@example.org")).one()
        ada.status = "unsubscribed"
    result = run(cli_env, "subscribers", "import", str(path), "--confirmed")
    assert result.exit_code == 1
    assert "line 2: ada@example.org unsubscribed" in result.output
    assert subscribers(sessions)["ada@example.org"].status == "unsubscribed"


def test_a_file_without_the_columns_is_refused_in_one_sentence(cli_env, sessions, tmp_path) -> None:
    result = run(cli_env, "subscribers", "import", str(write(tmp_path, "address,topics\na,b\n")))
    assert result.exit_code == 1
    assert "missing: email, keywords" in result.output
    assert "Traceback" not in result.output


def test_export_round_trips_through_import(sessions, cli_env, tmp_path) -> None:
    run(cli_env, "subscribers", "import", str(write(tmp_path, GOOD)), "--confirmed")
    exported = run(cli_env, "subscribers", "export")
    assert exported.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [r["email"] for r in rows] == ["ada@example.org", "bob@example.org"]
    assert rows[0]["keywords"] == "diffusion\nrobot*"
    assert rows[1]["weekday"] == "monday"
    again = run(cli_env, "subscribers", "import", "-", "--confirmed", stdin=exported.stdout)
    assert again.output.strip() == "imported 0, updated 0, rejected 0"


def test_list_shows_one_line_per_subscriber(sessions, cli_env, tmp_path) -> None:
    run(cli_env, "subscribers", "import", str(write(tmp_path, GOOD)), "--confirmed")
    result = run(cli_env, "subscribers", "list")
    assert result.exit_code == 0
    lines = [ln for ln in result.stdout.splitlines() if "@" in ln]
    assert lines[0].split("\t") == [
        "ada@example.org", "confirmed", "daily 07:30 Europe/Berlin", "2 terms"]
    assert len(lines) == 2


def test_import_streams_in_batches(sessions, cli_env, tmp_path, monkeypatch) -> None:
    import digest.subscribers.roster

    monkeypatch.setattr(digest.subscribers.roster, "BATCH_SIZE", 7)
    body = "".join(f"user{i}@example.org,topic {i % 5},daily,UTC,07:00\n" for i in range(40))
    path = write(tmp_path, "email,keywords,frequency,timezone,send_time\n" + body)
    result = run(cli_env, "subscribers", "import", str(path), "--confirmed")
    assert result.output.strip() == "imported 40, updated 0, rejected 0"
    assert len(subscribers(sessions)) == 40


def test_a_latin1_file_keeps_its_ascii_rows_and_names_the_bad_line(
    cli_env, sessions, tmp_path
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(
        "email,keywords\nada@example.org,robots\nj\xf6rg@example.org,robots\n"
        "bob@example.org,\"r\xe9seaux, robots\"\ncy@example.org,diffusion\n".encode("latin-1")
    )
    result = run(cli_env, "subscribers", "import", str(path), "--confirmed")
    assert result.exit_code == 1
    assert "line 3: not valid UTF-8" in result.output
    assert "line 4: not valid UTF-8" in result.output
    assert result.stdout.strip() == "imported 2, updated 0, rejected 2"
    assert "Traceback" not in result.output
    assert set(subscribers(sessions)) == {"ada@example.org", "cy@example.org"}


def test_a_bad_byte_late_in_the_file_names_its_line_and_keeps_every_good_row(
    cli_env, sessions, tmp_path
) -> None:
    good = [f"user{i}@example.org,topic {i % 7},daily,UTC,07:00\n" for i in range(1520)]
    head = "email,keywords,frequency,timezone,send_time\n" + "".join(good[:1500])
    bad = "broken@example.org,caf\xe9,daily,UTC,07:00\n"  # line 1502
    body = head.encode() + bad.encode("latin-1") + "".join(good[1500:]).encode()
    path = tmp_path / "big.csv"
    path.write_bytes(body)
    result = run(cli_env, "subscribers", "import", str(path), "--confirmed")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "line 1502: not valid UTF-8 text (save the file as UTF-8 and import it again)"]
    assert result.stdout.strip() == "imported 1520, updated 0, rejected 1"
    assert len(subscribers(sessions)) == 1520


def test_a_huge_file_of_junk_streams_in_flat_memory(sessions, settings, tmp_path) -> None:
    import tracemalloc
    from datetime import UTC, datetime

    from digest.subscribers import roster

    path = tmp_path / "junk.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("email,keywords,frequency,timezone,send_time\n")
        for i in range(200_000):
            if i % 1000 == 0:  # a few rows that reach validation and the database
                out.write(f"user{i}@example.org,robots,daily,UTC,07:00\n")
            else:
                out.write(f"junk{i},{'x' * 40},daily,UTC,07:00,extra,fields\n")
    seen: list[int] = []
    tracemalloc.start()
    try:
        with path.open("rb") as binary:
            report = roster.import_csv(
                sessions, settings, roster.text_stream(binary), confirmed=True,
                now=datetime(2026, 1, 1, tzinfo=UTC),
                on_rejection=lambda line, reason: seen.append(line) if len(seen) < 3 else None,
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (report.imported, report.rejected) == (200, 199_800)
    assert seen == [3, 4, 5]
    assert len(report.rejections) <= roster.MAX_KEPT_REJECTIONS
    # Keeping the 199,800 rejections took 21 MB here; streaming them peaks near 2 MB (one batch,
    # the capped sample), whatever the file's length.
    assert peak < 6_000_000, f"peak {peak:,} bytes"


def test_progress_is_shown_on_a_terminal_only(cli_env, sessions, tmp_path) -> None:
    import os
    import pty
    import subprocess
    import sys

    rows = "".join(f"junk{i},x,daily,UTC,07:00,extra\n" for i in range(25_000))
    path = write(tmp_path, "email,keywords,frequency,timezone,send_time\n" + rows)
    quiet = run(cli_env, "subscribers", "import", str(path))
    assert "rows read" not in quiet.output
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-c", "from digest.cli import main; main()", "subscribers",
         "import", str(path)],
        env={**os.environ, **cli_env}, stdout=subprocess.PIPE, stderr=follower,
    ) as process:
        os.close(follower)  # the child holds the terminal now; reading ends when it exits
        shown = b""
        try:
            while chunk := os.read(leader, 65536):
                shown += chunk
        except OSError:  # EIO: the terminal's last writer closed it
            pass
        finally:
            os.close(leader)
        out = process.stdout.read() if process.stdout else b""
    assert process.returncode == 1
    assert out.decode().strip() == "imported 0, updated 0, rejected 25000"
    text = shown.decode()
    assert "10,000 rows read: imported 0, updated 0, rejected 10000" in text
    assert "20,000 rows read" in text


FORMULAS = '''email,keywords,frequency,timezone,send_time
-dash@example.org,"=HYPERLINK(""http://evil.example/"",""x"")",daily,UTC,07:00
+plus@example.org,"+robots",daily,UTC,07:00
at@example.org,"@SUM(A1), -survey",daily,UTC,07:00
survey@example.org,"-survey, robots",daily,UTC,07:00
quoted@example.org,"'=literal quote, robots",daily,UTC,07:00
'''


def test_export_neutralises_formula_cells_and_import_reads_them_back(
    sessions, cli_env, tmp_path
) -> None:
    result = run(cli_env, "subscribers", "import", str(write(tmp_path, FORMULAS)), "--confirmed")
    assert result.exit_code == 0, result.output
    with sessions.begin() as session:  # a stored profile that itself starts with a quote
        quoted = session.scalars(select(Subscriber).where(Subscriber.email.like("quoted@%"))).one()
        assert quoted.keywords == "=literal quote, robots"  # a neutralised cell reads back
        quoted.keywords = "'=literal quote, robots"
    before = {email: sub.keywords for email, sub in subscribers(sessions).items()}
    assert before["survey@example.org"] == "-survey, robots"
    exported = run(cli_env, "subscribers", "export")
    cells = [cell for row in csv.reader(io.StringIO(exported.stdout)) for cell in row]
    # No cell a spreadsheet would run as a formula (OWASP: = + - @ tab CR).
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'-dash@example.org" in cells and "'-survey, robots" in cells
    assert "''=literal quote, robots" in cells
    again = run(cli_env, "subscribers", "import", "-", "--confirmed", stdin=exported.stdout)
    assert again.output.strip() == "imported 0, updated 0, rejected 0", again.output
    assert {email: sub.keywords for email, sub in subscribers(sessions).items()} == before


def test_import_rejects_control_characters_and_non_ascii_digits_by_line(
    sessions, cli_env, tmp_path
) -> None:
    text = (
        "email,keywords,frequency,timezone,send_time\n"
        "nul@example.org,robots\x00,daily,UTC,07:00\n"
        "esc@example.org,\x1b[2Jrobots,daily,UTC,07:00\n"
        "good@example.org,robots,daily,UTC,07:00\n"
        "digits@example.org,robots,daily,UTC,\u0660\u0667:\u0660\u0660\n"
    )
    result = run(cli_env, "subscribers", "import", str(write(tmp_path, text)), "--confirmed")
    assert result.exit_code == 1, result.output
    assert "imported 1, updated 0, rejected 3" in result.output
    assert "line 2: keywords:" in result.output and "line 3: keywords:" in result.output
    assert "line 5: send_time:" in result.output
    assert "\x1b" not in result.output and "\x00" not in result.output
    assert set(subscribers(sessions)) == {"good@example.org"}


def test_list_and_export_escape_control_characters_of_older_rows(
    sessions, cli_env, clock
) -> None:
    from web_support import add_subscriber

    add_subscriber(sessions, clock.now, email="old@example.org",
                   keywords="robots\x1b]0;owned\x07, diffusion\nworld\u009b", timezone="UTC\x1b[2J")
    exported = run(cli_env, "subscribers", "export")
    listed = run(cli_env, "subscribers", "list")
    for output in (exported.stdout, listed.stdout):
        controls = [ch for ch in output if ord(ch) < 32 or 127 <= ord(ch) < 160]
        assert not [ch for ch in controls if ch not in "\n\t"]
        assert "\\x1b" in output
    row = next(csv.DictReader(io.StringIO(exported.stdout)))
    assert row["keywords"] == "robots\\x1b]0;owned\\x07, diffusion\nworld\\x9b"
    assert "UTC\\x1b[2J" in listed.stdout
