"""Baselines: frozen all-MiniLM-L6-v2 + the project's head (`minilm.py`), and
lexical TF-IDF / BM25 (`lexical.py`), on the same splits and metrics as the release models."""
