"""Stream rows from JSONL, CSV/TSV or Parquet files as dicts, one (line number, row) at a time.

Shared by `pairscore evaluate`, the batch scorer (local and Ray) and training on a user's files. A line that does
not parse is yielded as the exception, so callers decide whether to skip, report or stop. A file is named by a
path, a folder, a glob or a pyarrow filesystem URI (s3://, gs://, file://).

Text is decoded strictly (UTF-8 unless told otherwise, a byte-order mark dropped): a byte the encoding cannot read
stops the reading with the file, line and byte offset (DecodeError), because replacing it would change the text
that gets scored, evaluated or trained on without anyone knowing.
"""

from __future__ import annotations

import codecs
import csv
import glob
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow.fs as pafs
import pyarrow.parquet as pq

FORMATS = {
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
}
DEFAULT_ENCODING = "utf-8"
DELIMITERS = {",": ",", "\t": "\t", "\\t": "\t", "tab": "\t", ";": ";", "|": "|"}  # --delimiter spellings
BLOCK = 1 << 20  # bytes read at a time


class DecodeError(ValueError):
    """Bytes the file's encoding cannot read; the message names the file, line, byte and offset."""


@dataclass(frozen=True)
class TextFormat:
    """How a text file (JSONL, CSV) is read: its encoding, and for CSV the delimiter (None: `\\t` for `.tsv`, else
    a tab when the header line has tabs and no commas, else a comma)."""

    encoding: str = DEFAULT_ENCODING
    delimiter: str | None = None

    def __post_init__(self) -> None:
        codecs.lookup(self.encoding)  # LookupError for an unknown name: checked where the flag is parsed
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise ValueError(f"delimiter {self.delimiter!r}: expected one character")


def text_format(encoding: str | None = None, delimiter: str | None = None) -> TextFormat:
    """A TextFormat from the flags' spellings (`--delimiter tab` or `\\t`); ValueError naming a bad one."""
    try:
        codecs.lookup(encoding or DEFAULT_ENCODING)
    except LookupError:
        raise ValueError(f"encoding {encoding!r}: unknown (e.g. utf-8, cp1252, latin-1, utf-16)") from None
    if delimiter is not None and delimiter not in DELIMITERS:
        raise ValueError(f"delimiter {delimiter!r}: expected one of {sorted(DELIMITERS)}")
    return TextFormat(encoding or DEFAULT_ENCODING, DELIMITERS[delimiter] if delimiter is not None else None)


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


def iter_rows(
    path: str | Path, stream: BinaryIO | None = None, text: TextFormat = TextFormat()
) -> Iterator[tuple[int, dict | Exception]]:
    """Yield (1-based line number, row dict or the exception that line raised).

    JSONL: blank lines are skipped (their numbers still count). CSV/TSV: numbers are file
    lines, the header being line 1; values stay strings. Parquet: row numbers.
    `stream`: the file already open in binary mode (e.g. from a pyarrow filesystem);
    `path` then only names the format. Raises DecodeError at the first byte `text.encoding`
    cannot read.
    """
    fmt = file_format(path)
    if fmt == "parquet":
        yield from _parquet_rows(stream or Path(path))
        return
    handle = stream if stream is not None else open(path, "rb")
    try:
        lines = text_lines(blocks(handle), str(path), text.encoding)
        if fmt == "jsonl":
            yield from _jsonl_rows(lines)
        else:
            yield from _csv_rows(lines, _delimiter(path, text))
    finally:
        handle.close()


def check_text(path: str | Path, text: TextFormat = TextFormat()) -> None:
    """DecodeError at the first byte of a JSONL/CSV file that `text.encoding` cannot read (a Parquet file passes):
    a job that writes as it reads checks first, so it never stops half-way through with half an output."""
    if file_format(path) != "parquet":
        with open(path, "rb") as handle:
            for _ in text_lines(blocks(handle), str(path), text.encoding):
                pass


def text_lines(blocks: Iterable[bytes], where: str, encoding: str = DEFAULT_ENCODING) -> Iterator[tuple[int, str]]:
    """(1-based line number, line with its ending) of the text the byte blocks decode to; a leading byte-order mark
    is dropped. DecodeError names the line (counted in b"\n": exact for ASCII-compatible encodings) and the offset."""
    name = codecs.lookup(encoding).name
    decoder = codecs.getincrementaldecoder("utf-8-sig" if name == "utf-8" else name)("strict")
    number, offset, pending = 1, 0, ""
    for block in blocks:
        try:
            pending += decoder.decode(block)
        except UnicodeDecodeError as exc:  # exc.object: the decoder's held-back bytes, then this block
            line = number + pending.count("\n") + exc.object[: exc.start].count(b"\n")
            raise _decode_error(exc, where, line, offset + len(block) - len(exc.object), name) from None
        offset += len(block)
        *complete, pending = pending.split("\n")
        for line in complete:
            yield number, line + "\n"
            number += 1
    try:
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        line = number + pending.count("\n") + exc.object[: exc.start].count(b"\n")
        raise _decode_error(exc, where, line, offset - len(exc.object), name) from None
    if pending:
        yield number, pending


def _decode_error(exc: UnicodeDecodeError, where: str, line: int, start: int, encoding: str) -> DecodeError:
    spelled = "UTF-8" if encoding == "utf-8" else encoding
    return DecodeError(
        f"{where}:{line}: not {spelled} (byte 0x{exc.object[exc.start]:02x} at offset {start + exc.start}); "
        "pass --encoding (pairscore train: --data.encoding), e.g. cp1252"
    )


def blocks(stream: Any, size: int = BLOCK) -> Iterator[bytes]:
    """A binary stream's bytes, `size` at a time."""
    while block := stream.read(size):
        yield block


def _delimiter(path: str | Path, text: TextFormat) -> str | None:
    """The CSV delimiter: the flag's, a tab for `.tsv`, else None (sniffed from the header line)."""
    if text.delimiter is not None:
        return text.delimiter
    return "\t" if Path(path).suffix.lower() == ".tsv" else None


def _jsonl_rows(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, dict | Exception]]:
    for number, line in lines:
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


def _csv_rows(lines: Iterator[tuple[int, str]], delimiter: str | None) -> Iterator[tuple[int, dict | Exception]]:
    texts = (line for _, line in lines)
    header = next(texts, None)
    if header is None:
        return
    if delimiter is None:  # a tab-separated file named .csv: its header has tabs and no commas
        delimiter = "\t" if "\t" in header and "," not in header else ","
    reader = csv.DictReader(_prepend(header, texts), delimiter=delimiter)
    for row in reader:
        if None in row:  # more fields than the header names
            yield (
                reader.line_num,
                ValueError(
                    f"{len(reader.fieldnames or []) + len(row[None])} fields, header has {len(reader.fieldnames or [])}"
                ),
            )
        else:
            yield reader.line_num, row


def _prepend(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _parquet_rows(path: Path | BinaryIO) -> Iterator[tuple[int, dict | Exception]]:
    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        for row in batch.to_pylist():
            number += 1
            yield number, row
