"""The schema: migrations apply cleanly, agree with the models, and dates stay aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select

from digest.db import Base, make_engine, upgrade
from digest.models import Source


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == [], f"models differ from migrations; add an Alembic revision: {diff}"


def test_upgrade_is_safe_to_run_again(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        assert "alembic_version" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_upgrade_creates_a_fresh_sqlite_database_and_its_folder(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'nested' / 'digest.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"papers", "subscribers", "digests", "outbox", "sources"} <= tables
    assert "digest_items" not in tables  # 0002_compact_digests packed them into digests


def test_datetimes_come_back_aware_in_utc(sessions) -> None:
    eastern = timezone(timedelta(hours=-4))
    moment = datetime(2026, 4, 27, 0, 0, tzinfo=eastern)
    with sessions.begin() as session:
        session.add(Source(url="file:///x", last_fetched_at=moment))
    with sessions() as session:
        stored = session.scalars(select(Source.last_fetched_at)).one()
    assert stored == moment
    assert stored.tzinfo == UTC


def test_naive_datetimes_are_refused(sessions) -> None:
    with pytest.raises(Exception, match="naive datetime"), sessions.begin() as session:
        session.add(Source(url="file:///y", last_fetched_at=datetime(2026, 1, 1)))
        session.flush()


def test_outbox_messages_are_stored_compressed_and_read_back_whole(sessions) -> None:
    from sqlalchemy import text

    from digest.db import CompressedBytes
    from digest.mail.outbox import enqueue
    from digest.models import OutboxMessage

    now = datetime(2026, 5, 1, tzinfo=UTC)
    body = b"Subject: x\r\n\r\n" + b"=3D quoted-printable digest line\r\n" * 3000
    with sessions.begin() as session:
        row = enqueue(session, kind="notice", dedupe_key="n:1", to_addr="a@example.org",
                      subject="x", message=body, now=now)  # fmt: skip
        assert row is not None
        row_id = row.id
    with sessions.begin() as session:
        stored = session.execute(text("SELECT message FROM outbox WHERE id = :i"), {"i": row_id})
        raw = bytes(stored.scalar_one())
        # A row written before compression (plain bytes) still reads back as it was.
        session.execute(text("UPDATE outbox SET message = :m WHERE id = :i"),
                        {"m": b"Subject: old\r\n\r\nplain", "i": row_id})  # fmt: skip
    assert raw.startswith(CompressedBytes.MARKER) and len(raw) < len(body) / 10
    with sessions() as session:
        first = session.get(OutboxMessage, row_id)
        assert first is not None and first.message == b"Subject: old\r\n\r\nplain"
    with sessions.begin() as session:
        restore = text("UPDATE outbox SET message = :m WHERE id = :i")
        session.execute(restore, {"m": raw, "i": row_id})
    with sessions() as session:
        again = session.get(OutboxMessage, row_id)
        assert again is not None and again.message == body
