"""Rewrite migrations/versions/0001_initial_schema.py from the models.

Only for the time before the first release: once a database in the wild has run 0001, every
schema change needs a new revision (`alembic revision --autogenerate -m ...`) instead.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command

from digest.db import alembic_config

VERSIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"


def main() -> None:
    for old in VERSIONS.glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        config = alembic_config(f"sqlite:///{tmp}/empty.db")
        command.revision(config, message="initial schema", autogenerate=True, rev_id="0001")


if __name__ == "__main__":
    main()
