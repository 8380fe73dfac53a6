"""Ranking validation (checkpoint selection) agrees with the served metric, negative scores included."""

import pytest

torch = pytest.importorskip("torch")

from pairscore.metrics import ranking  # noqa: E402
from training.model import PairModule  # noqa: E402


def test_validation_map_equals_the_served_map_on_negative_scores():
    module = PairModule(task="ranking", vocab_size=10, embedding_dim=4, hidden_size=4, head_hidden=4)
    logits = torch.tensor([-3.0, -1.0, -2.0, -0.5, -4.0, -6.0])
    labels, groups = torch.tensor([0, 1, 0, 0, 1, 0]), torch.tensor([0, 0, 0, 0, 1, 1])
    module.forward = lambda *args: logits  # the scores under test, through the real validation_step
    module.log = lambda *args, **kwargs: None
    batch = {"a_ids": None, "a_len": None, "b_ids": None, "b_len": None, "label": labels, "group": groups}
    module.validation_step(batch, 0)
    served = ranking(groups.tolist(), labels.tolist(), logits.tolist())
    assert float(module.val_metrics.compute()["map"]) == pytest.approx(served["map"])
