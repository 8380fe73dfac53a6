"""Baselines: a frozen teacher (all-MiniLM-L6-v2, all-mpnet-base-v2) + the project's head (`frozen.py`), and
lexical TF-IDF / BM25 (`lexical.py`), on the same splits and metrics as the release models."""
