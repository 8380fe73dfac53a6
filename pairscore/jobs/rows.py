"""One input row -> its pair -> its answer fields, and the rows a batch job could not score: shared by the local
scorer (pairscore.jobs.score) and Ray (pairscore.jobs.score_ray), so both give the same output and the same errors file.

Every input row ends up either scored or rejected with its line number and the reason; none is dropped. Each output
row starts with the same key as its errors-file line (`line`, and `file` when the input is several files), so output
joins back to input by that key, never by position: a rejected row leaves no gap in the output, and Ray's parts come
in no particular order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa

from pairscore.runtime.model import PairModel
from pairscore.schema import Columns, Pair, RowError, detect_columns, to_pair

COLLISION_PREFIX = "input_"  # an input field named like a score field is kept under this prefix


def texts(task: str, row: dict[str, Any], columns: Columns | None = None) -> Pair:
    """The row's text pair (by `columns`, else by its schema); its gold label, if any, is neither needed nor checked."""
    if columns is None:
        filled = [key for key, value in row.items() if value is not None]  # Parquet/CSV unions carry nulls
        try:
            columns = detect_columns(task, filled)
        except RowError:
            columns = detect_columns(task, row.keys())
    return to_pair(task, {columns.text_a: row.get(columns.text_a), columns.text_b: row.get(columns.text_b)}, columns)


def first_row_columns(task: str, rows: Iterable[tuple[int, dict | Exception]], columns: Columns, where: str) -> None:
    """Refuse a --columns mapping that the file's first readable row does not have (RowError naming the file), so a
    misnamed column stops the job at once instead of rejecting every row."""
    for _, row in rows:
        if isinstance(row, dict):
            try:
                detect_columns(task, row.keys(), columns)
            except RowError as exc:
                raise RowError(f"{where}: {exc}") from None
            return


def score_rows(
    model: PairModel, rows: list[tuple[dict[str, Any], dict | Exception]], columns: Columns | None = None
) -> tuple[list[tuple[dict, dict, dict]], list[tuple[dict, str, Any]]]:
    """Score keyed rows (key: {"line": n} or {"file": f, "line": n}): (key, row, output row) per scored row, the
    output row being the key, the input fields and the scores; (key, reason, row or None) per rejected one."""
    good, rejected = [], []
    for key, row in rows:
        if isinstance(row, Exception):
            rejected.append((key, str(row), None))
            continue
        try:
            good.append((key, row, texts(model.task, row, columns)))
        except RowError as exc:
            rejected.append((key, str(exc), row))
    if not good:
        return [], rejected
    outputs = model.score_pairs([p.text_a for _, _, p in good], [p.text_b for _, _, p in good])
    return [(key, row, merge(key, row, score)) for (key, row, _), score in zip(good, model.results(outputs))], rejected


def error_line(key: dict[str, Any], error: str, row: Any) -> str:
    """One line of an errors file: where the row was (its key: line, and file when there are several), why, the row."""
    return json.dumps({**key, "error": error, "row": row}, ensure_ascii=False, default=str) + "\n"


def summary(scored: int, rejected: int, output: Any, errors: Any, seconds: float) -> str:
    rate = (scored + rejected) / max(seconds, 1e-9)
    return f"pairscore score: {scored} rows scored -> {output}, {rejected} rejected -> {errors} ({rate:.0f} rows/s)"


def verdict(rejected: int, allowed: int, errors: Any) -> tuple[int, str | None]:
    """The exit status of a finished job and why: 1 when more rows were rejected than --max-rejected allows (the
    output is complete otherwise; its rows carry their input `line`), else 0."""
    if rejected <= allowed:
        return 0, None
    return 1, (
        f"pairscore score: {rejected} rows rejected, more than --max-rejected {allowed}: they are in {errors}; "
        "join the output to the input by its `line` column, not by position"
    )


def unknown_fields(rows: list[dict[str, Any]], columns: list[str], target: Any) -> dict[int, str]:
    """{index: reason} for rows with fields outside the columns the first rows fixed."""
    return {
        i: f"fields {sorted(set(row) - set(columns))} are not columns of {target}"
        for i, row in enumerate(rows)
        if not set(row) <= set(columns)
    }


def first_schema(rows: list[dict[str, Any]]) -> Any:
    """The Parquet schema the first scored rows fix: their fields in order, types as pyarrow infers them."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return pa.Table.from_pydict({column: [row.get(column) for row in rows] for column in columns}).schema


def fit_schema(rows: list[dict[str, Any]], schema: Any, refused: dict[int, str]) -> Any:
    """The rows not in `refused` as one table of `schema`; each row that does not fit is added to `refused`."""
    try:
        return pa.Table.from_pylist([row for i, row in enumerate(rows) if i not in refused], schema=schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass  # find the rows that do not fit, one by one
    keep = []
    for i, row in enumerate(rows):
        if i in refused:
            continue
        try:
            keep.append(pa.Table.from_pylist([row], schema=schema))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            refused[i] = f"does not fit the Parquet schema of the first rows ({exc})"
    return pa.concat_tables(keep).combine_chunks() if keep else schema.empty_table()


def merge(key: dict[str, Any], row: dict[str, Any], score: dict[str, Any]) -> dict[str, Any]:
    """The key, the input fields, then the scores; an input field named like a key or score field is kept as
    input_<name>."""
    out = dict(key)
    for name, value in row.items():
        while name in score or name in out:
            name = COLLISION_PREFIX + name
        out[name] = value
    out.update(score)
    return out


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
