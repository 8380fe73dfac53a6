"""pairscore: Siamese recurrent sentence-pair scoring (entailment, paraphrase, answer ranking)."""

__version__ = "0.1.0"
