"""Reliability diagrams of the shipped entailment and paraphrase models: docs/reliability.png.

    python -m training.studies.reliability [--models models] [--out docs/reliability.png]

For every split a card reports (selection and reported), the served probabilities are
binned as the card's ECE bins them (pairscore.metrics, 15 equal-width bins: the top
class's confidence for entailment, the positive-class probability for paraphrase); each
bin's observed accuracy / positive rate is plotted against its mean probability, for the
served (calibrated) head and for the same head without its temperature.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pairscore import metrics, tasks  # noqa: E402
from pairscore.runtime.model import PairModel  # noqa: E402
from pairscore.specs import load_pairs  # noqa: E402

CALIBRATED = [name for name, task in tasks.TASKS.items() if task.calibrated]


def bins(
    labels: np.ndarray, probabilities: np.ndarray, n_bins: int = metrics.ECE_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean probability, observed rate, count) per non-empty bin, binned as metrics.expected_calibration_error bins."""
    if probabilities.ndim == 2:
        confidence, hit = probabilities.max(axis=1), probabilities.argmax(axis=1) == labels
    else:
        confidence, hit = probabilities, labels > 0
    index = np.searchsorted(np.linspace(0.0, 1.0, n_bins + 1), confidence, side="right") - 1
    count = np.bincount(index, minlength=n_bins + 1)
    seen = count > 0
    mean = np.bincount(index, weights=confidence, minlength=n_bins + 1)[seen] / count[seen]
    rate = np.bincount(index, weights=hit.astype(float), minlength=n_bins + 1)[seen] / count[seen]
    return mean, rate, count[seen]


def plot(models: Path, out: Path) -> list[str]:
    """Draw one panel per (task, split); returns a line per panel with its ECE before and after."""
    panels = []
    for task in CALIBRATED:
        model = PairModel(models / task)
        card = model.card
        temperature = card.temperature
        data_dir = card.config["data"].get("data_dir")
        for spec in [*card.metrics, *(card.reported or {})]:
            pairs = load_pairs(spec, task, data_dir)
            labels = np.array([p.label for p in pairs])
            served = model.score_pairs([p.text_a for p in pairs], [p.text_b for p in pairs])
            panels.append((task, spec, temperature, labels, served, metrics.retemper(served, temperature)))
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4.2), squeeze=False)
    lines = []
    for ax, (task, spec, temperature, labels, served, raw) in zip(axes[0], panels):
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        for name, probabilities, marker in (("T = 1", raw, "o"), (f"T = {temperature:.2f} (served)", served, "s")):
            mean, rate, count = bins(labels, probabilities)
            ece = metrics.expected_calibration_error(labels, probabilities)
            (line,) = ax.plot(mean, rate, "-", lw=1, label=f"{name}: ECE {ece:.3f}")
            ax.scatter(mean, rate, s=8 + 60 * count / count.max(), marker=marker, color=line.get_color())
            lines.append(f"{task} {spec} {name}: ECE {ece:.4f}")
        ax.set_title(f"{task}\n{spec} ({len(labels)} pairs)", fontsize=9)
        positive = tasks.get(task).labels[-1]
        ax.set_xlabel("top-class confidence" if served.ndim == 2 else f"P({positive})")  # one column per class
        ax.set_ylabel("accuracy" if served.ndim == 2 else f"share of {positive}s")
        ax.set_xlim(0, 1), ax.set_ylim(0, 1)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"Reliability of the shipped models ({models}); marker size: pairs per bin", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--out", type=Path, default=Path("docs/reliability.png"))
    args = parser.parse_args(argv)
    for line in plot(args.models, args.out):
        print(line)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
