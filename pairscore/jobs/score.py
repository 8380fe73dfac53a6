"""`pairscore score`: score a JSONL / CSV / Parquet file with a model folder, streaming.

Rows are read, scored and written in chunks, so memory stays flat however large the
file. Scoring uses pairscore.runtime.model.PairModel, the code behind the HTTP service, so a
pair gets the same numbers here as from the endpoint. Every input row ends up either
in the output (its input `line`, the input fields, the scores; input order) or in the
errors file with its line number and the reason; the summary counts both, and a job
that rejected more rows than --max-rejected (default 0) exits 1. The text is checked
to decode before the first row is written: a file in the wrong encoding stops the job
with nothing written.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from tqdm import tqdm

from pairscore import artifact, io
from pairscore.io import file_format, iter_rows
from pairscore.jobs import score_ray
from pairscore.jobs.rows import (
    chunks,
    error_line,
    first_row_columns,
    first_schema,
    fit_schema,
    score_rows,
    summary,
    unknown_fields,
    verdict,
)
from pairscore.runtime.loading import check_model
from pairscore.runtime.model import PairModel
from pairscore.schema import Columns, columns_arg
from pairscore.specs import FILE_SPEC, slice_of

CHUNK_ROWS = 1024


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive integer")
    return int(value)


def _count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a count (0 or more)")
    return int(value)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pairscore score", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, type=Path, help="model folder, e.g. models/entailment")
    parser.add_argument(
        "--input",
        required=True,
        help="rows to score: .jsonl, .csv, .tsv or .parquet, with a slice if you like (pairs.csv[-100:]); "
        "--ray: also a folder, a glob or a URI",
    )
    parser.add_argument("--output", required=True, help="scored rows: .jsonl, .csv or .parquet (--ray: a folder)")
    parser.add_argument(
        "--errors", type=Path, help="rejected rows as JSONL (default: OUTPUT.errors.jsonl; --ray: OUTPUT/errors/)"
    )
    parser.add_argument(
        "--chunk", type=_positive, default=CHUNK_ROWS, help=f"rows per model call (default {CHUNK_ROWS})"
    )
    parser.add_argument(
        "--columns",
        type=columns_arg,
        help="text_a=COL,text_b=COL[,label=COL][,group=COL]: the columns holding the texts (default: by schema)",
    )
    parser.add_argument(
        "--max-rejected",
        type=_count,
        default=0,
        help="rows that may be rejected before the job exits 1 (default 0; the output is written either way)",
    )
    parser.add_argument("--encoding", default=io.DEFAULT_ENCODING, help="text encoding of JSONL/CSV (default utf-8)")
    parser.add_argument("--delimiter", help="CSV delimiter: , tab ; | (default: tab for .tsv, else sniffed)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    ray = parser.add_argument_group("Ray Data", "pip install -c constraints.txt -e '.[ray]'; docs/service.md")
    ray.add_argument(
        "--ray", action="store_true", help="score on Ray Data: a local Ray cluster, or the one RAY_ADDRESS names"
    )
    ray.add_argument("--concurrency", type=_positive, help="scoring actors (default: the cluster's CPUs / --num-cpus)")
    ray.add_argument(
        "--num-cpus", type=_positive, default=1, help="CPUs, and onnxruntime threads, per actor (default 1)"
    )
    args = parser.parse_args(argv)
    try:
        args.text = io.text_format(args.encoding, args.delimiter)
    except ValueError as exc:
        parser.error(str(exc))
    return args


class RowWriter:
    """Appends dict rows to a JSONL, CSV or Parquet file; CSV and Parquet columns are fixed by the first rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.format = file_format(path)
        self.columns: list[str] = []
        self._handle: Any = None if self.format == "parquet" else open(path, "w", encoding="utf-8", newline="")
        self._writer: Any = None

    def write(self, rows: list[dict[str, Any]]) -> dict[int, str]:
        """Write rows; returns {index: reason} for rows the file's fixed columns cannot hold."""
        if not rows:
            return {}
        if self.format == "jsonl":
            for row in rows:
                self._handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            return {}
        if not self.columns:
            self._open(rows)
        refused = unknown_fields(rows, self.columns, self.path)
        if self.format == "csv":
            for i, row in enumerate(rows):
                if i not in refused:
                    self._writer.writerow(
                        {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in row.items()}
                    )
            return refused
        table = fit_schema(rows, self._writer.schema, refused)
        if table.num_rows:
            self._writer.write_table(table)
        return refused

    def _open(self, rows: list[dict[str, Any]]) -> None:
        if self.format == "csv":
            self.columns = list(dict.fromkeys(key for row in rows for key in row))
            self._writer = csv.DictWriter(self._handle, fieldnames=self.columns)
            self._writer.writeheader()
        else:
            schema = first_schema(rows)
            self.columns = schema.names
            self._writer = pq.ParquetWriter(self.path, schema)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
        elif self._writer is not None:
            self._writer.close()
        else:  # Parquet and no row scored: still leave a readable, empty file
            import pyarrow as pa

            pq.write_table(pa.table({}), self.path)


def score_file(
    model: PairModel,
    rows: Iterator[tuple[int, dict | Exception]],
    output: RowWriter,
    errors: Any,
    chunk: int,
    progress: Any,
    columns: Columns | None = None,
) -> tuple[int, int]:
    """Score every (line, row); returns (scored, rejected)."""
    scored = rejected = 0
    for numbered in chunks(rows, chunk):
        good, bad = score_rows(model, [({"line": line}, row) for line, row in numbered], columns)
        refused = output.write([out for _, _, out in good])
        bad += [(good[i][0], reason, good[i][1]) for i, reason in refused.items()]
        errors.writelines(error_line(*reject) for reject in bad)
        scored += len(good) - len(refused)
        rejected += len(bad)
        progress.update(len(numbered))
    return scored, rejected


def input_rows(path: Path, part: str | None, text: io.TextFormat) -> Iterator[tuple[int, dict | Exception]]:
    """The rows a job reads, after checking the whole file decodes (DecodeError); `part` ('[-100:]') keeps a slice of
    them, counted as `pairscore evaluate` and training count a file's rows. Line numbers stay the file's."""
    io.check_text(path, text)
    if not part:
        return iter_rows(path, text=text)
    rows = slice_of(part, sum(1 for _ in iter_rows(path, text=text)))
    return itertools.islice(iter_rows(path, text=text), rows.start, rows.stop)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.ray:
        return score_ray.main(args)
    spec = FILE_SPEC.match(args.input.strip())
    args.input, part, args.output = Path(spec["path"]), spec["slice"], Path(args.output)
    errors_path = args.errors or Path(f"{args.output}.errors.jsonl")
    try:
        file_format(args.input)
        file_format(args.output)
        model = PairModel(args.model)
        check_model(model, model.task)
    except (ValueError, artifact.ArtifactError) as exc:
        print(f"pairscore score: {exc}", file=sys.stderr)
        return 2
    try:
        if not args.input.is_file():
            raise ValueError(f"{args.input}: no such file")
        rows = input_rows(args.input, part, args.text)
        if args.columns:
            first_row_columns(model.task, iter_rows(args.input, text=args.text), args.columns, str(args.input))
    except ValueError as exc:
        print(f"pairscore score: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    output = RowWriter(args.output)
    with (
        open(errors_path, "w", encoding="utf-8") as errors,
        tqdm(unit=" rows", disable=args.no_progress, desc=args.input.name) as progress,
    ):
        try:
            scored, rejected = score_file(model, rows, output, errors, args.chunk, progress, args.columns)
        finally:
            output.close()
    print(summary(scored, rejected, args.output, errors_path, time.perf_counter() - started), file=sys.stderr)
    status, why = verdict(rejected, args.max_rejected, errors_path)
    if why:
        print(why, file=sys.stderr)
    return status
