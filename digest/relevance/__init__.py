"""Relevance that learns from the reader (SPEC §10): paper embeddings from a local model,
ratings and liked papers, per-reader scores, and the three parts of a digest.

`model.py` is the embedding model behind a small interface, `embeddings.py` stores and loads the
vectors, `score.py` is the pure numpy scoring, `arrange.py` splits one subscriber's digest into its
parts, `feedback.py` records ratings and liked papers, `lookup.py` fetches liked papers that are
not stored yet from the arXiv API. Composing calls `arrange.arrange` once per digest.
"""

import os

# The products here are small (a window of papers times a reader's few liked papers): BLAS
# threads cost more than they give (measured 6x slower on a busy 2-core machine) and would
# compete with delivery workers and the database. Set before numpy is first imported.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
