"""Database plumbing: engine, session factory, declarative Base, shared column types, migrations."""

from __future__ import annotations

import sqlite3
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, LargeBinary, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so that SQLite batch migrations and autogenerate agree.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every model; no Flask here, so CLI, workers and Alembic share it."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no offset: stored as naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC one is needed")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


class CompressedBytes(TypeDecorator[bytes]):
    """Bytes stored zlib-compressed behind a marker; rows stored plain before read back as is.

    For outbox messages: a digest email is ~90 KB of quoted-printable HTML and text that
    compresses about 5x, and SQLite rewrites a whole row, its overflow pages included, on every
    state change (claimed, attempt counted, sent), so 100,000 broad digests were 9.6 GB written
    several times over. A serialized message never starts with NUL, so the marker cannot be
    mistaken for one stored plain. (PostgreSQL would TOAST-compress it anyway; this is cheaper.)
    """

    impl = LargeBinary
    cache_ok = True
    MARKER = b"\0z"
    LEVEL = 1  # ~0.3 ms for a digest; higher levels cost several times more for ~15% less

    def process_bind_param(self, value: bytes | None, dialect: Any) -> bytes | None:
        if not value:
            return value
        return self.MARKER + zlib.compress(bytes(value), self.LEVEL)

    def process_result_value(self, value: bytes | None, dialect: Any) -> bytes | None:
        if value is None:
            return None
        value = bytes(value)
        if value.startswith(self.MARKER):
            return zlib.decompress(value[len(self.MARKER):])
        return value


class JSONList(TypeDecorator[list[Any]]):
    """A JSON list column that reads back as [] rather than None."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: list[Any] | None, dialect: Any) -> list[Any]:
        return list(value or [])

    def process_result_value(self, value: list[Any] | None, dialect: Any) -> list[Any]:
        return list(value or [])


def utcnow() -> datetime:
    """The current time, aware and in UTC."""
    return datetime.now(UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and foreign keys, and its folder made."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = kwargs.setdefault("connect_args", {})
        connect_args.setdefault("timeout", 30)
        connect_args.setdefault("factory", _writer_connection(database or ":memory:"))
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


# SQLite serialises writers with one lock per database file. A waiting writer polls for it,
# sleeping 1, 2, 5 … up to 100 ms between tries, so the threads of one busy process (waitress
# answering sign-ups, the scheduler delivering) leave it idle between them and the unlucky
# thread waits for a second or more. Within a process they queue on a Python lock instead,
# taken at BEGIN IMMEDIATE and handed on the moment a transaction commits or rolls back. Other
# processes still meet at SQLite's own lock.
_WRITER_LOCKS: dict[str, threading.Lock] = {}
_WRITER_LOCKS_GUARD = threading.Lock()
WRITER_WAIT_SECONDS = 30  # then leave it to SQLite's busy timeout, which reports the failure


def _writer_connection(database: str) -> type[sqlite3.Connection]:
    """The sqlite3 connection class for this database file: releases its writer lock."""
    key = database if database == ":memory:" else str(Path(database).resolve())
    with _WRITER_LOCKS_GUARD:
        lock = _WRITER_LOCKS.setdefault(key, threading.Lock())

    class WriterConnection(sqlite3.Connection):
        writer_lock = lock
        holds_writer_lock = False

        def begin_writing(self) -> None:
            self.holds_writer_lock = self.writer_lock.acquire(timeout=WRITER_WAIT_SECONDS)

        def done_writing(self) -> None:
            if self.holds_writer_lock:
                self.holds_writer_lock = False
                self.writer_lock.release()

        def commit(self) -> None:
            try:
                super().commit()
            finally:
                self.done_writing()

        def rollback(self) -> None:
            try:
                super().rollback()
            finally:
                self.done_writing()

        def close(self) -> None:
            try:
                super().close()
            finally:
                self.done_writing()

    return WriterConnection


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling is turned off so that `_sqlite_begin` can issue
    # BEGIN IMMEDIATE: a writer then waits on the busy timeout instead of failing mid-transaction.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# The execution option that marks a connection as reading only (see `make_read_factory`).
READ_ONLY = "digest_read_only"


def _sqlite_begin(connection: Any) -> None:
    # Readers begin DEFERRED: under WAL they see a snapshot and never take the write lock, so a
    # slow page can never make an unsubscribe or the scheduler wait for "database is locked".
    if connection.get_execution_options().get(READ_ONLY):
        connection.exec_driver_sql("BEGIN")
    else:
        dbapi_connection = connection.connection.dbapi_connection
        queued = hasattr(dbapi_connection, "begin_writing")  # not with a caller's own factory
        if queued:
            dbapi_connection.begin_writing()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            if queued:
                dbapi_connection.done_writing()
            raise


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that only reads: a deferred BEGIN on SQLite, a READ ONLY transaction on
    PostgreSQL (a write in it fails). Nothing is committed; the transaction ends on exit."""
    with factory() as session:
        connection = session.connection(execution_options={READ_ONLY: True})
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        yield session


def insert_or_ignore(session: Session, table: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING on `table`: a row another process stored first (same
    unique key) is left alone, atomically and without an error, on PostgreSQL and SQLite."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    else:  # pragma: no cover - only PostgreSQL and SQLite are supported
        raise NotImplementedError(f"digest does not support the {dialect} database")
    return insert(table).on_conflict_do_nothing()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory; callers own transactions with `with factory.begin() as session:`."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def make_read_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory for pages that only read: on SQLite its transactions begin DEFERRED
    (plain BEGIN) instead of BEGIN IMMEDIATE, so they never hold or wait for the write lock."""
    return sessionmaker(bind=engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory.begin() as session:
        yield session


def migrations_path() -> Path:
    """The Alembic script folder, in a source checkout or inside an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_migrations", here.parent / "migrations"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("the migrations folder is missing from this installation")


def alembic_config(url: str) -> Any:
    """An Alembic Config pointing at our migrations and the given database."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_path()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`; running it again does nothing."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)
