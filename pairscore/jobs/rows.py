"""One input row -> its pair -> its answer fields, and the rows a batch job could not score: shared by the local
scorer (pairscore.jobs.score) and Ray (pairscore.jobs.score_ray), so both give the same output and the same errors file.

Every input row ends up either scored or rejected with its line number and the reason; none is dropped.
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
    model: PairModel, rows: list[tuple[int, dict | Exception]], columns: Columns | None = None
) -> tuple[list[tuple[int, dict, dict]], list[tuple[int, str, Any]]]:
    """Score numbered rows: (line, row, output row) per scored row, (line, reason, row or None) per rejected one."""
    good, rejected = [], []
    for line, row in rows:
        if isinstance(row, Exception):
            rejected.append((line, str(row), None))
            continue
        try:
            good.append((line, row, texts(model.task, row, columns)))
        except RowError as exc:
            rejected.append((line, str(exc), row))
    if not good:
        return [], rejected
    outputs = model.score_pairs([p.text_a for _, _, p in good], [p.text_b for _, _, p in good])
    return [(line, row, merge(row, score)) for (line, row, _), score in zip(good, model.results(outputs))], rejected


def error_line(line: int, error: str, row: Any, file: str | None = None) -> str:
    """One line of an errors file: where the row was (file only when there are several), why, the row itself."""
    where = {} if file is None else {"file": file}
    return json.dumps({**where, "line": line, "error": error, "row": row}, ensure_ascii=False, default=str) + "\n"


def summary(scored: int, rejected: int, output: Any, errors: Any, seconds: float) -> str:
    rate = (scored + rejected) / max(seconds, 1e-9)
    return f"pairscore score: {scored} rows scored -> {output}, {rejected} rejected -> {errors} ({rate:.0f} rows/s)"


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


def merge(row: dict[str, Any], score: dict[str, Any]) -> dict[str, Any]:
    """Input fields, then the scores; an input field named like a score is kept as input_<name>."""
    out = {}
    for key, value in row.items():
        while key in score or key in out:
            key = COLLISION_PREFIX + key
        out[key] = value
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
