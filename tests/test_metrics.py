"""pairscore.metrics (numpy, used by `pairscore evaluate`) agrees with torchmetrics (used in training)."""

import numpy as np
import pytest

from pairscore import metrics


def test_classification_by_hand():
    result = metrics.classification([0, 0, 1, 2, 2], [0, 1, 1, 2, 0], ["e", "n", "c"])
    assert result["accuracy"] == pytest.approx(0.6)
    assert result["confusion"] == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert result["per_class"]["n"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3})


def test_ranking_by_hand_counts_clean_questions_only():
    groups = ["a", "a", "a", "b", "b", "c", "c"]
    labels = [0, 1, 1, 1, 0, 1, 1]  # c has no wrong answer
    scores = [0.9, 0.8, 0.1, 0.2, 0.7, 0.5, 0.4]
    result = metrics.ranking(groups, labels, scores)
    assert result["questions"] == 2
    assert result["map"] == pytest.approx(((1 / 2 + 2 / 3) / 2 + 1 / 2) / 2)
    assert result["mrr"] == pytest.approx((1 / 2 + 1 / 2) / 2)


def test_best_threshold_maximises_f1():
    assert metrics.best_threshold([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.9]) == pytest.approx(0.4)


def test_agrees_with_torchmetrics():
    torch = pytest.importorskip("torch")
    from torchmetrics import classification as tmc
    from torchmetrics import retrieval

    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    ours = metrics.classification(y, p, ["e", "n", "c"])
    f1 = tmc.MulticlassF1Score(3, average=None)(torch.tensor(p), torch.tensor(y))
    assert [ours["per_class"][k]["f1"] for k in "enc"] == pytest.approx(f1.tolist())
    yb, pb = y > 1, p > 0
    ours = metrics.binary(yb, pb)
    assert ours["f1"] == pytest.approx(float(tmc.BinaryF1Score()(torch.tensor(pb).int(), torch.tensor(yb).int())))
    assert ours["precision"] == pytest.approx(
        float(tmc.BinaryPrecision()(torch.tensor(pb).int(), torch.tensor(yb).int()))
    )
    groups, labels, scores = rng.integers(0, 30, 300), rng.integers(0, 2, 300), rng.random(300)
    ours = metrics.ranking(groups, labels, scores)
    clean = [g for g in set(groups) if 0 < labels[groups == g].sum() < (groups == g).sum()]
    keep = np.isin(groups, clean)
    args = (torch.tensor(scores[keep]), torch.tensor(labels[keep]))
    assert ours["map"] == pytest.approx(float(retrieval.RetrievalMAP()(*args, indexes=torch.tensor(groups[keep]))))
    assert ours["mrr"] == pytest.approx(float(retrieval.RetrievalMRR()(*args, indexes=torch.tensor(groups[keep]))))
    assert ours["questions"] == len(clean)


def test_best_threshold_is_the_best_observed_cut():
    rng = np.random.default_rng(0)
    for _ in range(20):
        y, p = rng.integers(0, 2, 200), np.round(rng.random(200), 2)
        best = max(metrics.binary(y, p >= t)["f1"] for t in np.unique(p))
        assert metrics.binary(y, p >= metrics.best_threshold(y, p))["f1"] == pytest.approx(best)
