"""Temperature scaling: fit, ECE in training (torchmetrics) == ECE in serving (numpy), folded into the exported head."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from helpers import FIXTURE_DATA  # noqa: E402
from pairscore import metrics  # noqa: E402
from pairscore.card import read  # noqa: E402
from pairscore.jobs.evaluate import calibration_errors  # noqa: E402
from pairscore.runtime.model import PairModel  # noqa: E402
from pairscore.specs import load_pairs  # noqa: E402
from training import calibration  # noqa: E402


def overconfident(
    task: str, n: int = 4000, temperature: float = 2.5, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels drawn from softmax/sigmoid(z), logits reported as z * temperature: the fitted T should come back."""
    generator = torch.Generator().manual_seed(seed)
    if task == "entailment":
        z = torch.randn(n, 3, generator=generator) * 2
        labels = torch.multinomial(z.softmax(-1), 1, generator=generator).squeeze(1)
    else:
        z = torch.randn(n, generator=generator) * 2
        labels = torch.bernoulli(z.sigmoid(), generator=generator).long()
    return z * temperature, labels


@pytest.mark.parametrize("task", ["entailment", "paraphrase"])
def test_temperature_is_recovered_and_lowers_ece(task):
    logits, labels = overconfident(task)
    fitted = calibration.summarize(logits, labels.tolist(), task)
    assert fitted["temperature"] == pytest.approx(2.5, rel=0.1)
    assert fitted["ece_after"] < fitted["ece_before"] / 2


@pytest.mark.parametrize("task", ["entailment", "paraphrase"])
def test_numpy_ece_equals_torchmetrics(task):
    logits, labels = overconfident(task, n=1000, seed=1)
    for temperature in (1.0, 2.5):
        scaled = logits / temperature
        probabilities = (scaled.softmax(-1) if task == "entailment" else scaled.sigmoid()).numpy()
        expected = calibration.calibration_error(logits, labels, task, temperature)
        assert metrics.expected_calibration_error(labels.numpy(), probabilities) == pytest.approx(expected, abs=1e-6)
    edges = np.array([0.0, 1.0, 0.5, 1 / 15, 14 / 15])  # bin boundaries and the ends
    assert metrics.expected_calibration_error([0, 1, 1, 0, 1], edges) == pytest.approx(
        calibration.calibration_error(
            torch.logit(torch.tensor(edges, dtype=torch.float64)).float(), torch.tensor([0, 1, 1, 0, 1]), "paraphrase"
        ),
        abs=1e-6,
    )


def test_retemper_undoes_a_temperature():
    z = np.random.default_rng(0).normal(size=(50, 3)) * 3

    def softmax(x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    assert np.abs(metrics.retemper(softmax(z / 2.0), 2.0) - softmax(z)).max() < 1e-9
    sigmoid = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    assert np.abs(metrics.retemper(sigmoid(z[:, 0] / 2.0), 2.0) - sigmoid(z[:, 0])).max() < 1e-9


def test_calibration_slices_leave_out_pairs_seen_in_training():
    pairs = load_pairs("twitter_url/train", "paraphrase", FIXTURE_DATA)
    swapped = type(pairs[0])(pairs[0].text_b, pairs[0].text_a, pairs[0].label)
    assert calibration.fresh_pairs([swapped, pairs[1], pairs[1]], pairs[:1]) == [pairs[1]]


@pytest.mark.parametrize("task", ["entailment", "paraphrase"])
def test_exported_head_serves_calibrated_probabilities(tiny_v2_models, task):
    """The card's temperature is in the head graph (export's parity check compares it with torch at that
    temperature); the card reports ECE before and after on every metric split, as the serving code measures it."""
    model = PairModel(tiny_v2_models / task)
    card = model.card
    fitted = card.calibration
    assert fitted.temperature > 0 and fitted.fit_on["splits"] == card.config["data"]["calibration"]
    assert fitted.fit_on["pairs"] > 0 and max(card.parity.encoder, card.parity.head) <= 1e-5
    assert set(fitted.splits) == set(card.metrics)
    for spec, values in fitted.splits.items():
        pairs = load_pairs(spec, task, FIXTURE_DATA)
        assert calibration_errors(model, pairs) == values
    if task == "paraphrase":  # the F1 threshold is picked on the calibrated probabilities
        pairs = [p for spec in card.metrics for p in load_pairs(spec, task, FIXTURE_DATA)]
        served = model.score_pairs([p.text_a for p in pairs], [p.text_b for p in pairs])
        assert card.threshold == metrics.best_threshold([p.label for p in pairs], served)


def test_ranking_is_not_calibrated(tiny_v2_models):
    assert read(tiny_v2_models / "ranking").calibration is None


def test_a_degenerate_slice_keeps_the_temperature_bounded():
    logits, labels = torch.tensor([0.1, 0.1, 0.1, 0.1]), torch.tensor([0, 1, 0, 1])  # one output for every pair
    assert calibration.fit_temperature(logits, labels, "paraphrase") == calibration.TEMPERATURE_RANGE[1]


def test_reliability_diagram_shows_the_card_ece(tiny_v2_models, tmp_path):
    from training.studies import reliability

    lines = reliability.plot(tiny_v2_models, tmp_path / "reliability.png")
    assert (tmp_path / "reliability.png").stat().st_size > 0
    for task in ("entailment", "paraphrase"):
        card = read(tiny_v2_models / task)
        for spec, values in card.calibration.splits.items():
            served = f"{task} {spec} T = {card.calibration.temperature:.2f} (served): ECE {values['ece_after']:.4f}"
            raw = f"{task} {spec} T = 1: ECE {values['ece_before']:.4f}"
            assert served in lines and raw in lines
