"""The serving targets as data, judged against the suites' measured records by key.

A record is a dict of figures a suite's `records(result)` files under a key (e.g. `http:entailment1@1`, the HTTP
cell of 1-pair /entailment requests at concurrency 1); a target names the key and the field it compares, and
formats the measured column from the record's own fields. A target whose record a run did not measure is left out.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

COMPARE = {"<=": (operator.le, "≤ "), ">=": (operator.ge, "≥ "), "==": (operator.eq, "")}


@dataclass(frozen=True)
class Target:
    table: str  # where results.md shows it: "serving" (serving targets), "wrk" (the wrk section), "speed" (issue 27)
    key: str  # the record
    field: str  # the figure compared
    comparison: str  # "<=", ">=" or "=="
    wanted: str  # the bound, as shown
    unit: str  # after the bound
    label: str  # the row's first column; {fields} of the record fill it
    shown: str  # the measured column, from the record's fields
    unmeasured: str = "n/a"  # the measured column when the field is None or nan


# fmt: off
TARGETS = [Target(*row) for row in (
    # table, record key, field, comparison, wanted, unit, label, measured column[, when unmeasured]
    ("serving", "http:entailment1@1", "p50_ms", "<=", "4", " ms", "/entailment, 1 pair per request, 1 client: p50",
     "{p50_ms:.1f} ms"),
    ("serving", "http:entailment1@1", "p99_ms", "<=", "10", " ms", "… p99", "{p99_ms:.1f} ms"),
    ("serving", "http:entailment32@8", "vs_minilm", ">=", "10", "×",
     "/entailment, 32 pairs × 8 clients: pairs/s vs MiniLM (in process, its best SNLI batch)",
     "{vs_minilm:.1f}× ({pairs_per_s:,.0f} vs {minilm:,.0f} pairs/s)", "{pairs_per_s:,.0f} pairs/s (no MiniLM number)"),
    ("serving", "http:entailment32@8", "p99_ms", "<=", "100", " ms", "… p99", "{p99_ms:.1f} ms"),
    ("serving", "http:entailment32@8", "errors", "==", "0", "", "… errors", "{errors} of {requests}"),
    ("serving", "http:rank1000@1", "p99_ms", "<=", "300", " ms", "/rank, 1,000 new answers (cache off): p99",
     "{p99_ms:.0f} ms (p50 {p50_ms:.0f} ms, {errors} errors)"),
    ("serving", "http:rank1000_new@1", "p99_ms", "<=", "300", " ms",
     "/rank, 1,000 new answers (cache on: misses + insertions): p99",
     "{p99_ms:.0f} ms (p50 {p50_ms:.0f} ms, {errors} errors)"),
    ("serving", "http:rank1000_repeat@1", "p50_ms", "<=", "30", " ms",
     "/rank, the same 1,000 answers again (cache on): p50", "{p50_ms:.1f} ms (p99 {p99_ms:.0f} ms)"),
    ("serving", "http:server", "peak_rss_mb", "<=", "400", " MB", "peak RSS of the serving process tree under load",
     "{peak_rss_mb:.0f} MB summed over {server_processes} processes (PSS {peak_pss_mb:.0f} MB; "
     "largest process {peak_rss_single_mb:.0f} MB)"),
    ("serving", "batch:served", "worst", "<=", "1e-6", "",
     "served encoders: batch == single (in process, {pairs} real pairs per task)",
     "max |Δ| {worst:.2g}, {flips} flips ({encoders})"),
    ("serving", "models:all", "worst", ">=", "0.9", "× {baseline_label}",
     "served pairs/s, vector cache off, this checkout's models vs {baseline_label} (same run, wrk, every cell)",
     "worst {worst:.2f}× ({worst_cell}); geometric mean {mean:.2f}× over {cells} cells",
     "n/a: no 2xx answer from the baseline in {unmeasured}"),
    ("serving", "models:all", "errors", "==", "0", "", "… errors (non-2xx + socket) on this checkout's models",
     "{errors} of {requests}"),
    ("wrk", "wrk:/entailment 1 pair x1", "p99_ms", "<=", "3", " ms", "1 connection, 1 pair: p99", "{p99_ms:.2f} ms"),
    ("wrk", "wrk:/entailment 1 pair x1", "max_ms", "<=", "20", " ms", "… max", "{max_ms:.1f} ms"),
    ("wrk", "wrk:/entailment 1 pair x32", "p99_ms", "<=", "100", " ms", "32 connections, 1 pair: p99",
     "{p99_ms:.1f} ms"),
    ("wrk", "wrk:/entailment 1 pair x32", "vs_before", ">=", "1.15", "×", "… req/s vs before (same run)",
     "{vs_before:.2f}× ({requests_per_s:,.0f} vs {before_requests_per_s:,.0f})",
     "{requests_per_s:,.0f} (no --baseline server in this run)"),
    ("wrk", "wrk:soak", "rss_growth_mb", "<=", "20", " MB",
     "{minutes:.0f}-minute soak at 32 connections: worker RSS growth",
     "{rss_growth_mb:+.1f} MB ({rss_start_mb:.0f} → {rss_end_mb:.0f})"),
    ("wrk", "wrk:soak", "gc_over_20ms", "==", "0", "", "… GC pauses over 20 ms",
     "{gc_over_20ms:.0f} of {gc_collections:.0f} collections ({gc_cpu_over_20ms:.0f} with over 20 ms of CPU)"),
    # issue 27: the encoder at the hardware's limit, and serving that adds almost nothing to it
    ("speed", "http:entailment32@8", "vs_minilm", ">=", "25", "×",
     "served pairs/s, /entailment 32 pairs × 8 clients, vs MiniLM in process (its best SNLI batch)",
     "{vs_minilm:.1f}× ({pairs_per_s:,.0f} vs {minilm:,.0f} pairs/s)", "{pairs_per_s:,.0f} pairs/s (no MiniLM number)"),
    ("speed", "roofline:in_process", "share_pct", ">=", "80", " %",
     "PairModel in process, 64 pairs per call: share of its encoder graph alone on the same texts",
     "{share_pct:.0f} % ({pairs_per_s:,.0f} vs {graph_pairs_per_s:,.0f} pairs/s)"),
    ("speed", "breakdown:32x8", "dispatch_pct", "<=", "10", " %",
     "BentoML's dispatch, share of the worker's CPU at 32 pairs × 8 clients (py-spy)",
     "{dispatch_pct:.1f} % (worker {cpu_ms:.2f} ms CPU per request)"),
    ("speed", "wrk:/entailment 1 pair x1", "p50_ms", "<=", "1", " ms", "1 pair under wrk, 1 connection: p50",
     "{p50_ms:.2f} ms"),
    ("speed", "wrk:/entailment 1 pair x1", "p99_ms", "<=", "3", " ms", "… p99", "{p99_ms:.2f} ms"),
    ("speed", "http:rank1000@1", "p99_ms", "<=", "150", " ms", "/rank, 1,000 new answers, cache off: p99",
     "{p99_ms:.0f} ms (p50 {p50_ms:.0f} ms)"),
)]
# fmt: on


def met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def judge(table: str, records: dict[str, dict[str, Any]], mark: dict[str, str] | None = None) -> list[list[str]]:
    """The rows (target, wanted, measured, met?) of `table` whose record was measured; `mark` appends a note to the
    measured column of the records whose key starts with one of its prefixes (figures taken beside other load)."""
    rows = []
    for t in TARGETS:
        record = records.get(t.key)
        if t.table != table or record is None:
            continue
        value = record.get(t.field)
        measured = value is not None and not (isinstance(value, float) and math.isnan(value))
        compare, sign = COMPARE[t.comparison]
        ok = compare(value, float(t.wanted)) if measured else None
        shown = (t.shown if measured else t.unmeasured).format_map(record)
        note = next((m for prefix, m in (mark or {}).items() if t.key.startswith(prefix)), "")
        rows.append([t.label.format_map(record), (sign + t.wanted + t.unit).format_map(record), shown + note, met(ok)])
    return rows
