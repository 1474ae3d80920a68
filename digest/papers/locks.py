"""Who may plan digests when: the lock that keeps composing and paper ingestion apart.

A paper is stamped first-seen when it is stored, but a planner sees it only once that
transaction commits. A digest composed in between would close its window after the stamp
without seeing the paper, and the next digest's window would start after it: the paper would
be lost for that subscriber. So storing papers and planning digests never overlap:

- On PostgreSQL, planning holds the session-level advisory lock "plan" for its whole run
  (`exclusive`), and every paper-storing transaction takes the same key as a transaction-level
  lock (`fence_planning`) before it stamps anything. Both wait for each other across processes.
  Planners that share composing (`digest send --shard i/n`) hold the key in shared mode: they
  run side by side, and storing papers still waits until none runs.
- On SQLite every write transaction begins with BEGIN IMMEDIATE (see db.py), so writers are
  serialized by the database itself; the stamp is taken once the write lock is held.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

# One lock per name within this process too: the scheduler's jobs run in different threads.
_LOCAL_LOCKS = {name: threading.Lock() for name in ("fetch", "plan")}


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for `name` (Python's hash() varies per process)."""
    digest = hashlib.sha256(f"digest:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def exclusive(
    engine: Engine, name: str, *, wait: bool = False, shared: bool = False
) -> Iterator[bool]:
    """Yield True when this process holds the `name` lock (with `wait`, once it does).

    On PostgreSQL the lock is an advisory lock, session-level and taken on its own autocommit
    connection, so it spans the job's own transactions and every process; it is released at
    the end, or when the process dies. Elsewhere it is a lock within this process.

    `shared`: several processes may hold it at once (planners that share composing, each its
    own part of the subscribers); paper storing's `fence_planning` still waits for all of them,
    and they for it, so every sharer sees the same papers for the whole of its run.
    """
    local = _LOCAL_LOCKS[name]
    if not local.acquire(blocking=wait):
        yield False
        return
    try:
        if engine.dialect.name != "postgresql":
            yield True
            return
        key = lock_key(name)
        kind = "_shared" if shared else ""
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            verb = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
            result = connection.scalar(select(getattr(func, verb + kind)(key)))
            held = wait or bool(result)
            try:
                yield held
            finally:
                if held:
                    connection.scalar(select(getattr(func, "pg_advisory_unlock" + kind)(key)))
    finally:
        local.release()


def fence_planning(session: Session) -> None:
    """Within a paper-storing transaction: wait until no planner runs, and keep them off.

    On PostgreSQL this takes the "plan" key as a transaction-level advisory lock, released at
    commit or rollback. On SQLite it starts the transaction (BEGIN IMMEDIATE), which already
    excludes every other writer.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.scalar(select(func.pg_advisory_xact_lock(lock_key("plan"))))
