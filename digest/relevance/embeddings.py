"""Paper vectors in the database: computed in batches for papers that have none, loaded by id.

A vector is stored as float32 bytes under the model's name, so a change of model embeds every
paper afresh under the new name and never mixes two models' vectors in one comparison.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sqlalchemy import exists, insert, select
from sqlalchemy.orm import Session

from digest.models import Paper, PaperEmbedding
from digest.relevance.model import DEFAULT_MODEL, Embedder, embedder, paper_text

EMBED_BATCH = 256  # papers embedded and inserted at a time: bounds the text held in memory
_LOAD_CHUNK = 500


def embed_missing(
    session: Session, model: Embedder | None = None, *, batch: int = EMBED_BATCH
) -> int:
    """Embed every stored paper that has no vector under the model's name; how many were.

    Without `model`, the default one is loaded, and only once some paper needs it: a fetch
    that stored nothing new costs no model load."""
    done, after_id = 0, 0
    name = model.name if model is not None else DEFAULT_MODEL
    missing = ~exists().where(PaperEmbedding.paper_id == Paper.id, PaperEmbedding.model == name)
    while True:
        rows = session.execute(
            select(Paper.id, Paper.title, Paper.abstract)
            .where(Paper.id > after_id, missing)
            .order_by(Paper.id)
            .limit(batch)
        ).all()
        if not rows:
            return done
        model = model or embedder()
        vectors = model.embed([paper_text(row.title, row.abstract) for row in rows])
        session.execute(
            insert(PaperEmbedding),
            [
                {"paper_id": row.id, "model": model.name, "vector": to_bytes(vector)}
                for row, vector in zip(rows, vectors, strict=True)
            ],
        )
        done += len(rows)
        after_id = rows[-1].id


def load_vectors(
    session: Session, model_name: str, paper_ids: Iterable[int]
) -> dict[int, np.ndarray]:
    """The stored vectors of these papers under `model_name` (papers without one are left out)."""
    ids = sorted(set(paper_ids))
    found: dict[int, np.ndarray] = {}
    for start in range(0, len(ids), _LOAD_CHUNK):
        chunk = ids[start : start + _LOAD_CHUNK]
        rows = session.execute(
            select(PaperEmbedding.paper_id, PaperEmbedding.vector).where(
                PaperEmbedding.model == model_name, PaperEmbedding.paper_id.in_(chunk)
            )
        )
        for paper_id, blob in rows:
            found[paper_id] = from_bytes(blob)
    return found


def to_bytes(vector: np.ndarray) -> bytes:
    """A vector as stored: little-endian float32."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    """A stored vector back as a float32 array."""
    return np.frombuffer(blob, dtype="<f4")
