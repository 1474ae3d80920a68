"""The embedding model behind a small interface: WordLlama, loaded from its wheel, never a hub.

`wordllama` ships its 256-dimensional static token embeddings (16 MB) and tokenizer inside the
wheel. Its plain `WordLlama.load()` looks for the tokenizer in the wrong folder and then reaches for
the Hugging Face hub, so the model is loaded with the package folder as its cache and downloads
disabled; the hub's offline switch is set too, so nothing here can go to the network. The model
is loaded once per process, on first use (importing this module loads nothing).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

DEFAULT_MODEL = "wordllama-l2-256"
MAX_CHARS = 2000  # title + abstract; longer text adds little to a static embedding


class Embedder(Protocol):
    """A text embedding model: a stable `name` (the key vectors are stored under) and `dim`."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One L2-normalized float32 row per text."""


class WordLlamaEmbedder:
    """WordLlama's l2_supercat model truncated to 256 dimensions (its default)."""

    name = DEFAULT_MODEL
    dim = 256

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # belt and braces: never the hub
        import wordllama
        from wordllama import WordLlama

        self._model: Any = WordLlama.load(
            cache_dir=Path(wordllama.__file__).parent, disable_download=True, dim=self.dim
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of `texts`, normalized; an empty list gives a (0, dim) array."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.embed([text[:MAX_CHARS] for text in texts], norm=True)
        return np.asarray(vectors, dtype=np.float32)


_lock = threading.Lock()
_loaded: dict[str, Embedder] = {}


def embedder(name: str = DEFAULT_MODEL) -> Embedder:
    """The process's one instance of the named model, loaded on first use."""
    with _lock:
        model = _loaded.get(name)
        if model is None:
            if name != DEFAULT_MODEL:
                raise ValueError(f"unknown embedding model {name!r}")
            model = _loaded[name] = WordLlamaEmbedder()
        return model


def paper_text(title: str, abstract: str | None) -> str:
    """What a paper's embedding is made of: its title, then its abstract."""
    return f"{title.strip()}. {(abstract or '').strip()}"
