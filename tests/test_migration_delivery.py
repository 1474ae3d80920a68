"""Revision 0003_delivery: subscribers stored before it keep email delivery."""

from __future__ import annotations

from sqlalchemy import text

from digest.db import make_engine, upgrade


def test_existing_subscribers_get_email_delivery(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    upgrade(url, "0001")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO subscribers (email, status, keywords, frequency, weekday, send_time,"
                " timezone, paused, token_nonce, created_at, hard_failures) VALUES"
                " ('ada@example.org', 'confirmed', 'robot*', 'daily', 0, '07:00', 'UTC', 0,"
                " 'n', '2026-06-01 09:00:00', 0)"
            ))
        upgrade(url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT delivery FROM subscribers")).scalar_one() == "email"
    finally:
        engine.dispose()
