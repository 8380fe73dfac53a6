"""The frontier plot and table (training/frontier.py) on a few synthetic points."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

from training.frontier import BASELINE, STUDENT, Point, plot, table_lines  # noqa: E402

MAP, STS, SNLI = "wiki_qa/validation map", "stsb/validation /embed Spearman", "snli/validation[-1000:] accuracy"
POINTS = [
    Point("h384", STUDENT, "lstm 1×384", 9_100_000, {MAP: [0.77, 0.79], STS: [0.84, 0.86, 0.85]}, 9.5),
    Point("h128", STUDENT, "lstm 1×128", 4_302_595, {MAP: [0.75, 0.76], STS: [0.81, 0.83]}, 19.0),
    Point("MiniLM + head", BASELINE, "all-MiniLM-L6-v2 + MLP", 22_700_000, {MAP: [0.752], SNLI: [0.70]}, 1.0),
    Point("lexical", BASELINE, "features + LR", None, {MAP: [0.61], STS: [0.55]}, None),
]


def test_plot_writes_a_png_with_a_panel_per_row(tmp_path):
    path = plot(POINTS, tmp_path / "docs" / "frontier.png")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") and 1000 < len(data) < 150_000
    # a row only points without a speed have, and one nobody has, still get their (empty) panel
    assert plot(POINTS[3:], tmp_path / "empty.png", keys=[STS, "mrpc/train[-400:] accuracy"]).stat().st_size > 0


def test_the_table_has_a_line_per_point_with_the_seed_spread():
    lines = table_lines(POINTS)
    assert len(lines) == 2 + len(POINTS)
    assert lines[0] == f"| point | architecture | parameters | speed vs MiniLM | {MAP} | {STS} | {SNLI} |"
    h384, h128, minilm, lexical = lines[2:]
    assert "| 0.780 ± 0.010 (2 seeds) | 0.850 ± 0.010 (3 seeds) | – |" in h384
    assert "| 9,100,000 | 9.5× |" in h384 and "| 19.0× |" in h128
    assert "| 0.752 | – | 0.700 |" in minilm
    assert "| lexical | features + LR | – | – | 0.610 | 0.550 | – |" == lexical


def test_a_point_is_a_student_or_a_baseline():
    with pytest.raises(ValueError, match="teacher"):
        Point("x", "teacher", "?", None)
