"""Text sources for distillation: unlabelled texts, from the release's training data or from a user's files.

Distillation needs texts, not labels: what the teacher makes of each text is the target. So a domain with few or
no labels can still teach the student its vocabulary. A text source is one of:
- `release`: every shared source's training portion (TRAINING_SPECS; never a selection split);
- a shared split spec ('mrpc/train[:-400]'): both texts of each pair;
- a text file (.txt, local or URI): one text per line;
- a data file spec (pairscore.specs: JSONL/CSV/Parquet, folder, glob, URI, slice), optionally `#COL[,COL]`
  naming its text columns (default: the two text columns of whichever shared schema the file has).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs

from pairscore import io, specs, tasks
from pairscore.schema import SCHEMAS, RowError, detect_columns
from pairscore.specs import SOURCES, DataError, load_rows, parse_spec

RELEASE = "release"
# Every source's training portion; the selection splits (last 1,000 / 2,000 / 400 lines, the validation files) stay out.
TRAINING_SPECS = (
    "snli_cad/train",
    "sick/train",
    "snli/validation[:-1000]",
    "twitter_url/train[:-2000]",
    "mrpc/train[:-400]",
    "wiki_qa/train",
    "trec_qa/train",
    "stsb/train",
    "selqa/train",
    "sts2012_2016/train",
)
TEXT_SUFFIX = ".txt"


def is_shared(source: str) -> bool:
    """Whether a text source reads the shared data folder (the release texts or a shared split)."""
    return source == RELEASE or not (source.split("#")[0].endswith(TEXT_SUFFIX) or specs.is_file(source.split("#")[0]))


def split_texts(spec: str, data_dir: str | Path | None = None) -> list[str]:
    """Both texts of every row of a shared split spec (labels not needed: STS-B has scores)."""
    rows = load_rows(spec, data_dir)
    columns = detect_columns(SOURCES[parse_spec(spec)[0]].task, rows.column_names)
    return [text for row in rows for text in (row[columns.text_a], row[columns.text_b])]


def line_texts(path: str) -> list[str]:
    """A text file's non-empty lines (local path or pyarrow filesystem URI), UTF-8 (a byte-order mark dropped; a
    byte UTF-8 cannot read stops the run with its line, rather than teaching the student a replaced character)."""
    fs, where = pafs.FileSystem.from_uri(path) if "://" in path else (pafs.LocalFileSystem(), str(Path(path)))
    try:
        with fs.open_input_stream(where) as stream:
            lines = [line for _, line in io.text_lines(io.blocks(stream), path)]
    except io.DecodeError as exc:
        raise DataError(str(exc)) from None
    except (FileNotFoundError, OSError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    return [line.strip() for line in lines if line.strip()]


def file_texts(source: str) -> list[str]:
    """The texts of a data file spec: the `#COL[,COL]` columns, else the two text columns of its shared schema."""
    spec, _, named = source.partition("#")
    wanted = [c.strip() for c in named.split(",") if c.strip()]
    texts = []
    for path, line, row in specs.file_rows(spec):
        if isinstance(row, Exception):
            raise DataError(f"{path}:{line}: {row}")
        for column in wanted or schema_columns(row.keys(), path):
            value = row.get(column)
            if not isinstance(value, str):
                raise DataError(f"{path}:{line}: field {column!r} must be a text, got {type(value).__name__}")
            texts.append(value)
    return texts


def schema_columns(present: object, where: str) -> tuple[str, str]:
    """The two text columns of the first task schema the row's columns fit."""
    for task in tasks.NAMES:
        try:
            columns = detect_columns(task, present)
            return columns.text_a, columns.text_b
        except RowError:
            continue
    known = sorted({c for pairs in SCHEMAS.values() for pair in pairs for c in pair})
    raise DataError(f"{where}: no text columns among {sorted(present)}: name them as FILE#COL[,COL] (known: {known})")


def texts_of(sources: list[str], data_dir: str | Path | None = None) -> list[str]:
    """The distinct texts of every source, in first-seen order."""
    texts: dict[str, None] = {}
    for source in sources:
        if source == RELEASE:
            found = [t for spec in TRAINING_SPECS for t in split_texts(spec, data_dir)]
        elif source.split("#")[0].endswith(TEXT_SUFFIX):
            found = line_texts(source.split("#")[0])
        elif specs.is_file(source.split("#")[0]):
            found = file_texts(source)
        else:
            found = split_texts(source, data_dir)
        if not found:
            raise DataError(f"text source {source!r}: no texts")
        texts.update(dict.fromkeys(found))
    return list(texts)
