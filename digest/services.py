"""The long-lived parts a process needs: settings, the database engine and its session factory."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from digest.config import Settings
from digest.db import make_engine, make_read_factory, make_session_factory


@dataclass
class Services:
    """What the CLI, the web app, the scheduler and workers share; built once per process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    # For pages that only read: never takes SQLite's write lock (see `db.make_read_factory`).
    reads: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.reads = make_read_factory(self.engine)

    def close(self) -> None:
        """Release pooled database connections."""
        self.engine.dispose()


def build_services(settings: Settings) -> Services:
    """Connect to the configured database (nothing is queried yet)."""
    engine = make_engine(settings.database_url)
    return Services(settings=settings, engine=engine, sessions=make_session_factory(engine))
