"""Migrations carry data over: 0002_compact_digests (the last revision) packs each digest's
ledger rows into its `paper_ids`, in rank order, keeping the relevance parts, on SQLite (batch
mode) and on PostgreSQL, and downgrading restores the rows."""

from __future__ import annotations

from collections.abc import Iterator

import conftest
import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from digest.db import alembic_config, make_engine, upgrade
from digest.models import unpack_ids

SCHEMA = "migration_test"


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> Iterator[str]:
    """An empty database of each kind (on PostgreSQL, a schema of its own)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    base = conftest.postgres_url()
    if base is None:
        conftest.require("postgres", "the PostgreSQL migration test needs DIGEST_TEST_POSTGRES_URL")
    assert base is not None
    engine = make_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    url = make_url(base).update_query_dict({"options": f"-csearch_path={SCHEMA}"})
    yield url.render_as_string(hide_password=False)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    engine.dispose()


NOW = "2026-06-02 07:00:00"
BEFORE = "0006_relevance"  # 0002_compact_digests comes last in the chain
PARTS = '{"also_like": {}, "also_matched": [4]}'


def _fill_before(engine: Engine) -> None:
    """Two digests with ledger rows (ranks out of id order) and one digest without any; the
    first with relevance parts, which the conversion leaves as they are."""
    with engine.begin() as conn:
        for n in range(1, 5):
            conn.execute(text(
                "INSERT INTO papers (id, key, title, abstract, authors, categories, sources,"
                " first_seen_at, last_seen_at, last_changed_at) VALUES (:id, :key, 'T', '',"
                " '[]', '[]', '[]', :now, :now, :now)"
            ), {"id": n, "key": f"p{n}", "now": NOW})  # fmt: skip
        conn.execute(text(
            "INSERT INTO subscribers (id, email, status, keywords, frequency, weekday, send_time,"
            " timezone, paused, token_nonce, created_at, hard_failures) VALUES (1, 'a@x.org',"
            " 'confirmed', 'robot*', 'daily', 0, '07:00', 'UTC', false, 'n', :now, 0)"
        ), {"now": NOW})  # fmt: skip
        for digest_id in (1, 2, 3):
            conn.execute(text(
                "INSERT INTO digests (id, subscriber_id, scheduled_for, window_start, window_end,"
                " paper_count, keywords, parts, created_at) VALUES (:id, 1, :at, :now, :now, 0,"
                " 'robot*', :parts, :now)"
            ), {"id": digest_id, "at": f"2026-06-0{digest_id} 07:00:00", "now": NOW,
                "parts": PARTS if digest_id == 1 else None})  # fmt: skip
        conn.execute(text(
            "INSERT INTO outbox (kind, dedupe_key, subscriber_id, digest_id, to_addr, subject,"
            " state, attempts, next_attempt_at, created_at) VALUES ('digest', 'd1', 1, 1,"
            " 'a@x.org', 'S', 'queued', 0, :now, :now)"
        ), {"now": NOW})  # fmt: skip
        rows = [(1, 3, 1), (1, 1, 2), (1, 4, 3), (2, 2, 1)]  # (digest, paper, rank)
        for digest_id, paper_id, rank in rows:
            conn.execute(text(
                "INSERT INTO digest_items (digest_id, subscriber_id, paper_id, rank,"
                " matched_terms, in_title) VALUES (:d, 1, :p, :r, '[\"robot*\"]', true)"
            ), {"d": digest_id, "p": paper_id, "r": rank})  # fmt: skip


def test_compact_digests_carries_the_ledger_over_and_back(url: str) -> None:
    upgrade(url, BEFORE)
    engine = make_engine(url)
    try:
        _fill_before(engine)
        upgrade(url, "0002_compact_digests")
        assert "digest_items" not in inspect(engine).get_table_names()
        with engine.connect() as conn:
            packed = dict(conn.execute(text("SELECT id, paper_ids FROM digests")).all())
        assert {k: unpack_ids(v) for k, v in packed.items()} == {1: [3, 1, 4], 2: [2], 3: []}
        with engine.connect() as conn:
            parts = dict(conn.execute(text("SELECT id, parts FROM digests")).all())
        assert parts == {1: PARTS, 2: None, 3: None}
        with engine.connect() as conn:  # nothing cascaded away from the digests' table
            assert conn.execute(text("SELECT digest_id FROM outbox")).scalar_one() == 1

        from alembic import command

        command.downgrade(alembic_config(url), BEFORE)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT digest_id, paper_id, rank FROM digest_items ORDER BY digest_id, rank")
            ).all()
        assert [tuple(row) for row in rows] == [(1, 3, 1), (1, 1, 2), (1, 4, 3), (2, 2, 1)]
        with engine.connect() as conn:
            assert conn.execute(text("SELECT digest_id FROM outbox")).scalar_one() == 1
    finally:
        engine.dispose()
