"""The served-speed comparison of two model sets judges the release target on its worst cell, from 2xx answers only.

Rendering only (a results dict in, rows and markdown out): the measurement itself is `make bench`'s.
"""

from __future__ import annotations

import sys

import pytest

from helpers import ROOT

sys.path.insert(0, str(ROOT))  # the benchmarks are scripts next to the package, not installed with it
from benchmarks import model_speed, run_all  # noqa: E402


def wrk_round(requests: int, non_2xx: int = 0, seconds: float = 2.0) -> dict:
    """One wrk run as benchmarks.wrk_load.run_wrk returns it."""
    return {
        "requests": requests,
        "seconds": seconds,
        "non_2xx": non_2xx,
        "socket_errors": 0,
        "p50_ms": 4.0,
        "p99_ms": 9.0,
    }


def cell(name: str, per_request: int, baseline: list[dict], current: list[dict]) -> dict:
    return {
        "name": name,
        "baseline": model_speed.summarize(baseline, per_request),
        "current": model_speed.summarize(current, per_request),
    }


def result(cells: list[dict], baseline: str = model_speed.V21_MODELS) -> dict:
    return {
        "command": "python benchmarks/model_speed.py --duration 2",
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


def test_pairs_per_second_count_only_2xx_answers():
    summary = model_speed.summarize([wrk_round(100, non_2xx=10), wrk_round(100)], per_request=32)
    assert summary["pairs_per_s"] == pytest.approx(190 * 32 / 4.0)
    assert summary["errors"] == 10


def test_target_met_when_every_cell_is_at_least_0_9():
    cells = [
        cell("/entailment, 1 pair, 8 connections", 1, [wrk_round(1000)] * 2, [wrk_round(950)] * 2),
        cell("/rank, 100 answers, 8 connections", 100, [wrk_round(50)] * 2, [wrk_round(55)] * 2),
    ]
    ratio_row, errors_row = model_speed.targets(result(cells))
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
    rows = model_speed.targets(result(cells, baseline="1234abc"))
    assert rows[0][1] == "≥ 0.9× the models of 1234abc"
    assert "worst 0.87× (/paraphrase, 32 pairs, 32 connections)" in rows[0][2]
    assert rows[0][3] == "**no**"
    assert rows[1][3] == "**no**"


def test_markdown_and_the_serving_targets_table_carry_the_rows():
    cells = [cell("/entailment, 1 pair, 8 connections", 1, [wrk_round(1000)] * 2, [wrk_round(1000)] * 2)]
    data = result(cells)
    text = model_speed.markdown(data)
    assert "| /entailment, 1 pair, 8 connections | 500 | 500 | 1.00× |" in text
    assert "lstm 1×96" in text and "the v2.1 models" in text
    data["targets"] = model_speed.targets(data)
    assert run_all.targets(None, None, None, data)[-2:] == data["targets"]
