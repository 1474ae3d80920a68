"""Composing shared by several processes (SPEC §9): `digest send --shard i/n` processes on
PostgreSQL each compose their own part of the due subscribers; together every digest exactly
once, none missed, and delivered once."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import conftest
import pytest
from sqlalchemy import func, select, update

from digest.compose.digests import Shard
from digest.db import utcnow
from digest.feeds.common import PaperIn
from digest.models import Digest, OutboxMessage, Subscriber
from digest.papers.store import store_papers

DIGEST = Path(sys.executable).with_name("digest")


def test_a_shard_is_i_of_n() -> None:
    assert Shard.parse("1/4") == Shard(1, 4)
    for bad in ("4/4", "1", "-1/2", "a/b", "1/0"):
        with pytest.raises(ValueError, match="i/n"):
            Shard.parse(bad)


def paper(key: str) -> PaperIn:
    return PaperIn(
        key=key, arxiv_id=key, version=1, title=f"Robots {key}", abstract="An abstract.",
        authors=("Ada L.",), categories=("cs.RO",), url=f"https://arxiv.org/abs/{key}",
        pdf_url=None, code_url=None, project_url=None, upvotes=None, published_at=None,
        updated_at=None, announce_type="new",
    )  # fmt: skip


def test_two_shard_processes_compose_every_digest_once(services, cli_env, smtp_server) -> None:
    if services.engine.dialect.name != "postgresql":
        if conftest.postgres_url() is None:
            conftest.require("postgres", "shared composing needs PostgreSQL")
        pytest.skip("runs in the PostgreSQL pass (DIGEST_TEST_DATABASE_URL)")
    now = utcnow()
    with services.sessions.begin() as session:
        store_papers(session, [paper(f"2606.{n:05d}") for n in range(5)], source="t",
                     now=now - timedelta(hours=3))  # fmt: skip
        for n in range(90):
            session.add(Subscriber(
                email=f"s{n}@example.org", keywords="robot*", token_nonce="n",
                status="confirmed", confirmed_at=now - timedelta(days=2),
                created_at=now - timedelta(days=2),
            ))  # fmt: skip
        session.flush()
        # Every one due a minute ago, their last digest a day before.
        session.execute(update(Subscriber).values(
            next_digest_at=now - timedelta(minutes=1), last_digest_at=now - timedelta(days=1)
        ))  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env.update(cli_env, DIGEST_SMTP_URL=smtp_server.url,
               DIGEST_MAIL_FROM="Paper Digest <digest@example.org>")  # fmt: skip
    pipe = subprocess.PIPE
    runs = [
        subprocess.Popen(
            [str(DIGEST), "send", "--shard", f"{i}/2"], env=env, text=True, stdout=pipe, stderr=pipe
        )
        for i in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    sent = [int(out.split("sent ")[1].split(",")[0]) for out, _ in outputs]
    assert sum(sent) == 90 and all(part > 0 for part in sent)
    with services.sessions() as session:
        counts = select(Digest.subscriber_id, func.count()).group_by(Digest.subscriber_id)
        per_subscriber = {row[0]: row[1] for row in session.execute(counts)}
        ids = list(session.scalars(select(Subscriber.id)))
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 90
    assert per_subscriber == {who: 1 for who in ids}
    assert set(smtp_server.recipients().values()) == {1}
    assert len(smtp_server.recipients()) == 90
