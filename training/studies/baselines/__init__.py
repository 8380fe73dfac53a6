"""Baselines: a frozen teacher (all-MiniLM-L6-v2, all-mpnet-base-v2) + the project's head (`frozen.py`), and
lexical TF-IDF / BM25 (`lexical.py`), on the same splits and metrics as the release models.

Run as scripts, they need the 'baselines' extra on top of 'train', and say so in one line when it is missing."""

from pairscore import extras

if extras.running_as_script():
    extras.require("python -m training.studies.baselines", "train", "baselines")
