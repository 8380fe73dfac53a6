"""The served-speed comparison of two model sets judges the release target on its worst cell, from 2xx answers only;
the targets are joined to the measured records by key, and results.md renders from the stored JSON alone.

Rendering only (results in, rows and markdown out): the measurement itself is `make bench`'s.
"""

from __future__ import annotations

import json
import shutil

import pytest

from benchmarks import model_speed, report, wrk, wrk_load
from benchmarks.harness import OUT_DIR, REPO
from benchmarks.targets import TARGETS, judge


def wrk_round(requests: int, non_2xx: int = 0, seconds: float = 2.0) -> dict:
    """One wrk run as benchmarks.wrk.run_wrk returns it."""
    return {
        "requests": requests,
        "seconds": seconds,
        "non_2xx": non_2xx,
        "socket_errors": 0,
        "p50_ms": 4.0,
        "p99_ms": 9.0,
        "max_ms": 12.0,
    }


def cell(name: str, per_request: int, baseline: list[dict], current: list[dict]) -> dict:
    return {
        "name": name,
        "baseline": wrk.summarize(baseline, per_request),
        "current": wrk.summarize(current, per_request),
    }


def result(cells: list[dict], baseline: str = model_speed.V21_MODELS) -> dict:
    return {
        "command": "python -m benchmarks.model_speed --duration 2",
        "machine": {"time_utc": "2026-12-06T00:00:00Z", "loadavg": [1.0, 1.0, 1.0]},
        "wrk_version": "4.1.0",
        "service_commit": "abc1234",
        "baseline": baseline,
        "models": "models",
        "duration": 4.0,
        "rounds": 2,
        "warmup": 1.0,
        "described": {"baseline": {"entailment": "lstm 1×128"}, "current": {"entailment": "lstm 1×96"}},
        "cells": cells,
    }


def rows(data: dict) -> list[list[str]]:
    return judge("serving", model_speed.records(data))


def test_pairs_per_second_count_only_2xx_answers():
    summary = wrk.summarize([wrk_round(100, non_2xx=10), wrk_round(100)], per_request=32)
    assert summary["pairs_per_s"] == pytest.approx(190 * 32 / 4.0)
    assert summary["errors"] == 10


def test_target_met_when_every_cell_is_at_least_0_9():
    cells = [
        cell("/entailment, 1 pair, 8 connections", 1, [wrk_round(1000)] * 2, [wrk_round(950)] * 2),
        cell("/rank, 100 answers, 8 connections", 100, [wrk_round(50)] * 2, [wrk_round(55)] * 2),
    ]
    ratio_row, errors_row = rows(result(cells))
    assert ratio_row[1] == "≥ 0.9× the v2.1 models"
    assert "worst 0.95× (/entailment, 1 pair, 8 connections)" in ratio_row[2]
    assert ratio_row[3] == "yes"
    assert errors_row[2:] == ["0 of 2010", "yes"]


def test_one_slow_cell_misses_the_target_and_errors_are_flagged():
    cells = [
        cell("/entailment, 32 pairs, 8 connections", 32, [wrk_round(100)] * 2, [wrk_round(120)] * 2),
        cell(
            "/paraphrase, 32 pairs, 32 connections", 32, [wrk_round(100)] * 2, [wrk_round(87), wrk_round(88, non_2xx=1)]
        ),
    ]
    found = rows(result(cells, baseline="1234abc"))
    assert found[0][1] == "≥ 0.9× the models of 1234abc"
    assert "worst 0.87× (/paraphrase, 32 pairs, 32 connections)" in found[0][2]
    assert found[0][3] == "**no**"
    assert found[1][3] == "**no**"


def test_a_baseline_that_answered_nothing_leaves_the_target_unjudged():
    cells = [cell("/rank, 100 answers, 8 connections", 100, [wrk_round(50, non_2xx=50)] * 2, [wrk_round(50)] * 2)]
    ratio_row = rows(result(cells))[0]
    assert ratio_row[2:] == ["n/a: no 2xx answer from the baseline in /rank, 100 answers, 8 connections", "n/a"]


def test_markdown_carries_the_target_rows_and_marks_busy_figures():
    cells = [cell("/entailment, 1 pair, 8 connections", 1, [wrk_round(1000)] * 2, [wrk_round(1000)] * 2)]
    data = result(cells)
    text = model_speed.markdown(data)
    assert "| /entailment, 1 pair, 8 connections | 500 | 500 | 1.00× |" in text
    assert "lstm 1×96" in text and "the v2.1 models" in text
    assert "over 1 cells | yes |" in text
    assert "over 1 cells ⚠ | yes |" in model_speed.markdown(data, {"models:": " ⚠"})


def test_every_target_names_a_record_some_suite_files():
    """A target whose key no suite produces would silently never show: the keys are the join."""
    runs = {name: report.load(OUT_DIR, name) for name in report.SUITES}
    produced = set(report.records(runs)) | set(wrk_load.records(runs["wrk_load"]))
    assert {t.key for t in TARGETS} <= produced


def test_results_md_renders_from_the_stored_json_alone(tmp_path):
    """The stored benchmarks/out/*.json (the last real run) are enough to render results.md, paths relative."""
    out = tmp_path / "out"
    shutil.copytree(OUT_DIR, out, ignore=shutil.ignore_patterns("*.txt", "*.log"))
    text = report.render(out, tmp_path / "results.md", "python -m benchmarks.run_all --report-only").read_text()
    http = json.loads((OUT_DIR / "http_load.json").read_text())
    p50 = next(c["p50_ms"] for c in http["cells"] if c["kind"] == "entailment1" and c.get("concurrency") == 1)
    assert f"| /entailment, 1 pair per request, 1 client: p50 | ≤ 4 ms | {p50:.1f} ms" in text
    assert str(REPO) not in text
    assert {p.name for p in tmp_path.glob("*.png")} == {"engines.png", "http_latency.png", "wrk_soak.png"}
