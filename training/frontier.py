"""The quality/speed frontier (issue 26): one panel per measured figure, against pairs/s as a ratio to MiniLM, and
its table; the picture a user chooses a model from (docs/frontier.png, docs/experiments.md).

A point is a student size or a baseline. Its figures are keyed by row ("wiki_qa/validation map", "stsb/validation
/embed Spearman", ...), one value per seed; its speed is benchmarks/frontier.py's ratio (served for a student, in
process for a baseline). Students are one line, sorted by speed, each point the mean over seeds with the min-max as
its error bar, since distillation seeds move a figure more than task seeds do; baselines are labelled markers. A
point without a row or a speed is left out of that panel, and shows "–" in the table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

STUDENT, BASELINE = "student", "baseline"
MARKERS = "sD^vP*Xph<>"  # one per baseline, in order


@dataclass
class Point:
    name: str
    kind: str  # STUDENT | BASELINE
    architecture: str
    parameters: int | None
    figures: dict[str, list[float]] = field(default_factory=dict)  # row key -> one value per seed
    speed: float | None = None  # pairs/s as a ratio to MiniLM's, measured in the same run

    def __post_init__(self) -> None:
        if self.kind not in (STUDENT, BASELINE):
            raise ValueError(f"point {self.name!r}: kind {self.kind!r} is neither {STUDENT!r} nor {BASELINE!r}")


def row_keys(points: Sequence[Point]) -> list[str]:
    """Every row some point has a value for, in the order the points first give them."""
    return list(dict.fromkeys(key for p in points for key, values in p.figures.items() if values))


def spread(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, min, max) over the seeds."""
    return sum(values) / len(values), min(values), max(values)


def plot(points: Sequence[Point], path: str | Path, keys: Sequence[str] | None = None, columns: int = 3) -> Path:
    """The frontier as a PNG at `path`: a grid of panels, one per row key (`keys`, default every row measured)."""
    from matplotlib.figure import Figure  # the `train` extra; no pyplot, so no global backend to set

    keys = list(keys or row_keys(points))
    columns = max(1, min(columns, len(keys)))
    rows = max(1, math.ceil(len(keys) / columns))
    fig = Figure(figsize=(3.6 * columns, 2.9 * rows), layout="constrained")
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    baselines = [p for p in points if p.kind == BASELINE]
    for ax, key in zip(axes, keys):
        students = sorted((p for p in points if p.kind == STUDENT and shown(p, key)), key=lambda p: p.speed)
        if students:
            draw(ax, students, key, dict(fmt="o-", color="C0", label="students"))
        for number, p in enumerate(baselines):
            if shown(p, key):
                style = dict(fmt=MARKERS[number % len(MARKERS)], color=f"C{number % 9 + 1}", label=p.name)
                draw(ax, [p], key, style)
        ax.set_xscale("log")
        ax.set_title(key, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xlabel("pairs/s ÷ MiniLM's", fontsize=8)
        if not ax.has_data():
            ax.text(0.5, 0.5, "no point measured", ha="center", va="center", transform=ax.transAxes, fontsize=8)
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    return path


def shown(point: Point, key: str) -> bool:
    return point.speed is not None and point.speed > 0 and bool(point.figures.get(key))


def draw(ax, points: Sequence[Point], key: str, style: dict) -> None:
    """The points' means, joined in the given order, with min-max bars and each point's name beside it."""
    means, lows, highs = zip(*(spread(p.figures[key]) for p in points))
    xs = [p.speed for p in points]
    bars = [[m - lo for m, lo in zip(means, lows)], [hi - m for m, hi in zip(means, highs)]]
    ax.errorbar(xs, means, yerr=bars, capsize=2, markersize=4, linewidth=1, **style)
    for p, x, y in zip(points, xs, means):
        ax.annotate(p.name, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=6)


def figure(values: Sequence[float] | None) -> str:
    """'mean ± half the min-max spread (n seeds)', the single value, or '–'."""
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    mean, low, high = spread(values)
    return f"{mean:.3f} ± {(high - low) / 2:.3f} ({len(values)} seeds)"


def table_lines(points: Sequence[Point], keys: Sequence[str] | None = None) -> list[str]:
    """The frontier as a markdown table: a header, then one line per point."""
    keys = list(keys or row_keys(points))
    header = ["point", "architecture", "parameters", "speed vs MiniLM", *keys]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for p in points:
        cells = [
            p.name,
            p.architecture,
            "–" if p.parameters is None else f"{p.parameters:,}",
            "–" if p.speed is None else f"{p.speed:.1f}×",
            *(figure(p.figures.get(key)) for key in keys),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines
