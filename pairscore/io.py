"""Stream rows from JSONL, CSV or Parquet files as dicts, one (line number, row) at a time.

Shared by `pairscore evaluate`, the batch scorer (local and Ray) and training on a user's files. A line that does
not parse is yielded as the exception, so callers decide whether to skip, report or stop. A file is named by a
path, a folder, a glob or a pyarrow filesystem URI (s3://, gs://, file://).
"""

from __future__ import annotations

import csv
import glob
import io
import json
import os
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import pyarrow.fs as pafs
import pyarrow.parquet as pq

FORMATS = {".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}


def file_format(path: str | Path) -> str:
    """The format named by the file's suffix; ValueError naming the file otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path}: unknown file type {suffix!r}, expected one of {sorted(FORMATS)}")
    return FORMATS[suffix]


def data_files(spec: str) -> tuple[pafs.FileSystem, list[str]]:
    """The filesystem and the data files a file, folder or glob names, local or as a URI (s3://, gs://, file://)."""
    fs, path = pafs.FileSystem.from_uri(spec) if "://" in spec else (pafs.LocalFileSystem(), os.path.abspath(spec))
    if glob.has_magic(path):
        base = path[: min(path.find(c) for c in "*?[" if c in path)].rpartition("/")[0] or "/"
        wanted = path.split("/")  # a `*` stays within one folder, as in a shell
        listed = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        files = sorted(
            i.path
            for i in listed
            if i.is_file and len(i.path.split("/")) == len(wanted) and all(map(fnmatch, i.path.split("/"), wanted))
        )
    else:
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.Directory:  # a folder: its data files, other files (_SUCCESS, .crc) left alone
            listed = fs.get_file_info(pafs.FileSelector(path, recursive=True))
            files = sorted(i.path for i in listed if i.is_file and Path(i.path).suffix.lower() in FORMATS)
        else:
            files = [path] if info.is_file else []
    if not files:
        raise ValueError(f"{spec}: no such file, or no data files in it")
    for path in files:
        file_format(path)  # ValueError naming the file
    return fs, files


def open_file(fs: pafs.FileSystem, path: str) -> Any:
    """A binary stream of one data file (Parquet needs random access)."""
    return fs.open_input_file(path) if file_format(path) == "parquet" else fs.open_input_stream(path)


def iter_rows(path: str | Path, stream: BinaryIO | None = None) -> Iterator[tuple[int, dict | Exception]]:
    """Yield (1-based line number, row dict or the exception that line raised).

    JSONL: blank lines are skipped (their numbers still count). CSV: numbers are file
    lines, the header being line 1; values stay strings. Parquet: row numbers.
    `stream`: the file already open in binary mode (e.g. from a pyarrow filesystem);
    `path` then only names the format.
    """
    fmt = file_format(path)
    if fmt == "jsonl":
        yield from _jsonl_rows(_text(path, stream))
    elif fmt == "csv":
        yield from _csv_rows(_text(path, stream, newline=""))
    else:
        yield from _parquet_rows(stream or Path(path))


def _text(path: str | Path, stream: BinaryIO | None, newline: str | None = None) -> TextIO:
    if stream is None:
        return open(path, encoding="utf-8", errors="replace", newline=newline)
    return io.TextIOWrapper(stream, encoding="utf-8", errors="replace", newline=newline)


def _jsonl_rows(handle: TextIO) -> Iterator[tuple[int, dict | Exception]]:
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield number, ValueError(f"not valid JSON ({exc.msg} at column {exc.colno})")
                continue
            yield (
                number,
                row if isinstance(row, dict) else ValueError(f"expected a JSON object, got {type(row).__name__}"),
            )


def _csv_rows(handle: TextIO) -> Iterator[tuple[int, dict | Exception]]:
    with handle:
        reader = csv.DictReader(handle)
        for row in reader:
            if None in row:  # more fields than the header names
                yield (
                    reader.line_num,
                    ValueError(
                        f"{len(reader.fieldnames or []) + len(row[None])} fields, "
                        f"header has {len(reader.fieldnames or [])}"
                    ),
                )
            else:
                yield reader.line_num, row


def _parquet_rows(path: Path | BinaryIO) -> Iterator[tuple[int, dict | Exception]]:
    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            number += 1
            yield number, row
