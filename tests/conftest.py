"""Shared fixtures: settings in a temporary instance folder, a migrated database, the feed samples.

The database is SQLite in a temporary file unless DIGEST_TEST_DATABASE_URL names another one
(`.ci/run` runs the whole suite a second time against PostgreSQL that way). It is migrated once per
test session and emptied before each test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from digest.config import Settings, load_settings
from digest.db import Base, make_engine, make_session_factory, upgrade
from digest.services import Services

pytest_plugins = ["smtp_fixture"]

ROOT = Path(__file__).resolve().parent.parent
FEEDS = ROOT.parent / "shared" / "fixtures" / "feeds"


def postgres_url() -> str | None:
    """The PostgreSQL URL for tests that need PostgreSQL itself, or None to skip them."""
    return os.environ.get("DIGEST_TEST_POSTGRES_URL") or None


def require(kind: str, reason: str) -> None:
    """Skip for a missing dependency, unless CI said it must be there (then fail)."""
    if os.environ.get(f"DIGEST_REQUIRE_{kind.upper()}") == "1":
        pytest.fail(f"{reason}, and DIGEST_REQUIRE_{kind.upper()}=1 says it must be")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def feeds_dir() -> Path:
    """The folder of real feed responses (../shared/fixtures/feeds)."""
    if not FEEDS.is_dir():
        pytest.fail(f"feed samples not found at {FEEDS}")
    return FEEDS


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database for this test session."""
    url = os.environ.get("DIGEST_TEST_DATABASE_URL")
    if not url:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'digest.db'}"
    else:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS digest_items"))  # before 0002_compact_digests
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def empty_tables(engine: Engine) -> None:
    """Delete every row, children first, keeping the schema."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def sessions(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A session factory on an empty, migrated database."""
    empty_tables(engine)
    yield make_session_factory(engine)


@pytest.fixture
def instance_path(tmp_path: Path) -> Path:
    path = tmp_path / "instance"
    path.mkdir()
    return path


@pytest.fixture
def settings(database_url: str, instance_path: Path) -> Settings:
    """Settings as a fresh install would have them, on the test database and a temp instance."""
    return load_settings(
        {"DIGEST_DATABASE_URL": database_url, "DIGEST_SECRET_KEY": "test-secret-key"},
        instance_path=instance_path,
    )


@pytest.fixture
def services(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session]
) -> Services:
    return Services(settings=settings, engine=engine, sessions=sessions)


@pytest.fixture
def cli_env(database_url: str, instance_path: Path) -> dict[str, str]:
    """Environment for running the `digest` command against the test database."""
    return {
        "DIGEST_DATABASE_URL": database_url,
        "DIGEST_SECRET_KEY": "test-secret-key",
        "DIGEST_INSTANCE_PATH": str(instance_path),
    }


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis server for the shared rate limits (DIGEST_TEST_REDIS_URL, by default DB 15 on
    loopback); skipped (or failed in CI) when none answers."""
    url = os.environ.get("DIGEST_TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except ImportError:
        require("redis", "the redis package is not installed (pip install -e '.[test]')")
    except redis.RedisError as exc:
        require("redis", f"no Redis server answers at {url} ({exc})")
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's chromium for Playwright; skipped (or failed in CI) when it is not installed."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        require("browser", "Debian's chromium is not installed (apt-get install chromium)")
    return str(path)
