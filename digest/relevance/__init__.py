"""Relevance that learns from the reader (SPEC §10): paper embeddings from a local model,
ratings and liked papers, per-reader scores, and the three parts of a digest.

`model.py` is the embedding model behind a small interface, `embeddings.py` stores and loads the
vectors, `score.py` is the pure numpy scoring, `arrange.py` splits one subscriber's digest into its
parts, `feedback.py` records ratings and liked papers, `lookup.py` fetches liked papers that are
not stored yet from the arXiv API. Composing calls `arrange.arrange` once per digest.
"""
