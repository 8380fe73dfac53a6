"""Split specs: where a task's pairs come from, as text a config can hold.

Two kinds, with the same slice syntax (`datasets`' split slicing: `[:-1000]`, `[-2000:]`, `[:10%]`):
- a shared source, `[hub:]SOURCE/SPLIT[SLICE]` ('snli/validation[:-1000]', 'hub:snli/train'): loaded in its hub
  schema from a local data directory (`datasets.load_dataset("json", ...)`) or from its hub id;
- a user's file, `PATH[SLICE]`: a JSONL, CSV or Parquet file, a folder or glob of them, or a pyarrow filesystem URI
  (s3://, gs://), read by pairscore.io as the batch scorer reads it, columns mapped by `--data.columns` or
  detected. A run that names only files reads nothing from the data directory.
Both go through pairscore.schema, the one mapping layer shared with serving. Parsing a spec needs nothing but the
standard library, and so does reading a file spec, slice included (the serving install's `pairscore evaluate` and
`score` take them); loading a shared source needs `datasets` (the `train` extra), imported where it is loaded.
"""

from __future__ import annotations

import glob
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairscore import io
from pairscore.schema import Columns, LabelError, Pair, RowError, accepted, detect_columns, to_pair
from pairscore.settings import env_name, settings

DATA_DIR_ENV = env_name("data_dir")
DEFAULT_DATA_DIR = Path("../shared/data")


@dataclass(frozen=True)
class Source:
    task: str
    licence: str
    hub_id: str | None = None
    hub_config: str | None = None


SOURCES = {
    "snli": Source("entailment", "CC BY-SA 4.0", "stanfordnlp/snli"),
    "snli_cad": Source("entailment", "Apache-2.0 (text CC BY-SA 4.0)"),
    "multi_nli": Source("entailment", "OANC (free use); fiction parts CC BY(-SA) 3.0", "nyu-mll/multi_nli"),  # hub only
    "sick": Source("entailment", "CC BY-NC-SA 3.0 (non-commercial)", "sick"),
    "twitter_url": Source("paraphrase", "CC BY-NC-SA 3.0 + Twitter terms (non-commercial)"),
    "mrpc": Source("paraphrase", "Microsoft Research licence (research use)", "nyu-mll/glue", "mrpc"),
    "wiki_qa": Source("ranking", "Microsoft Research Data License (research use)", "microsoft/wiki_qa"),
    "trec_qa": Source("ranking", "research use"),
    "stsb": Source("paraphrase", "scores CC BY-SA 4.0", "sentence-transformers/stsb"),  # graded: no binary labels
    "selqa": Source("ranking", "Apache-2.0"),  # SelQA's answer-selection dev + test sets (training data only)
    # graded, like stsb; the licence differs by SemEval file (its `origin`): ../shared/data/README.md lists them
    "sts2012_2016": Source(
        "paraphrase",
        "per SemEval STS source file: research use; answers-forums and question-question CC BY-SA 3.0, postediting "
        "CC BY 4.0, plagiarism CC BY-NC-SA 2.0 UK (non-commercial)",
    ),
}
SPEC = re.compile(r"^(?P<hub>hub:)?(?P<source>\w+)/(?P<split>\w+)(?P<slice>\[[-0-9:%]*\])?$")
FILE_SPEC = re.compile(r"^(?P<path>.+?)(?P<slice>\[[-0-9:%]*\])?$")
SLICE = re.compile(r"^\[(?:(?P<start>-?\d+)(?P<start_pct>%)?)?:(?:(?P<stop>-?\d+)(?P<stop_pct>%)?)?\]$")
USER_DATA = "the user's own data: its terms are the user's"  # a file's licence entry in the card


class DataError(ValueError):
    """A split spec or data file that cannot be used; the message names it."""


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The flag if given, else $PAIRSCORE_DATA_DIR, else ../shared/data (relative to the working directory)."""
    return Path(data_dir or settings().data_dir or DEFAULT_DATA_DIR)


def is_file(spec: str) -> bool:
    """Whether a spec names a user's file (a data file suffix, a folder, a glob or a URI) rather than a source."""
    path = FILE_SPEC.match(spec.strip())["path"]
    return "://" in path or glob.has_magic(path) or Path(path).suffix.lower() in io.FORMATS or Path(path).is_dir()


def check(spec: str) -> None:
    """DataError naming the spec when it is neither a shared source's spec nor a file spec."""
    if not is_file(spec):
        parse_spec(spec)


def parse_spec(spec: str) -> tuple[str, str, str]:
    """'snli/validation[:-1000]' -> ('snli', 'validation', 'validation[:-1000]').

    A 'hub:' prefix loads that spec from the hub.
    """
    match = SPEC.match(spec.strip())
    if not match:
        raise DataError(
            f"split spec {spec!r}: expected [hub:]SOURCE/SPLIT[SLICE], "
            "e.g. 'snli/validation[:-1000]' or 'hub:snli/train'"
        )
    if match["source"] not in SOURCES:
        raise DataError(
            f"split spec {spec!r}: unknown source {match['source']!r}, expected one of {sorted(SOURCES)}, "
            f"or a data file ({', '.join(sorted(io.FORMATS))}), folder, glob or URI"
        )
    return match["source"], match["split"], match["split"] + (match["slice"] or "")


def load_rows(spec: str, data_dir: str | Path | None = None, hub: bool = False) -> Any:
    """The rows of one split spec as a `datasets.Dataset`, in the source's hub schema."""
    import datasets  # optional here: the `train` extra has it, the serving install does not

    source, split, selection = parse_spec(spec)
    if hub or spec.strip().startswith("hub:"):
        info = SOURCES[source]
        if info.hub_id is None:
            raise DataError(f"split spec {spec!r}: {source} has no hub counterpart; load it from a data directory")
        return datasets.load_dataset(info.hub_id, info.hub_config, split=selection)
    path = resolve_data_dir(data_dir) / source / f"{split}.jsonl"
    if not path.is_file():
        raise DataError(
            f"{path}: data file for {spec!r} not found "
            f"(set --data.data_dir or ${DATA_DIR_ENV}, or --data.hub=true to use the hub)"
        )
    try:
        return datasets.load_dataset("json", data_files={split: str(path)}, split=selection)
    except ValueError as exc:  # a slice past the data, or a file datasets cannot parse
        raise DataError(f"split spec {spec!r}: {exc}") from None


def load_pairs(
    spec: str,
    task: str,
    data_dir: str | Path | None = None,
    hub: bool = False,
    columns: Columns | None = None,
    text: io.TextFormat = io.TextFormat(),
    labels: dict[str, int] | None = None,
) -> list[Pair]:
    """Canonical pairs of one spec; rows without a gold label (SNLI's -1) are dropped. `columns`, `text` (encoding,
    delimiter) and `labels` (a user's label words) are how a file is read (a shared source has its own schema)."""
    if is_file(spec):
        return load_file_pairs(spec, task, columns, text, labels)
    source = parse_spec(spec)[0]
    if SOURCES[source].task != task:
        raise DataError(f"split spec {spec!r}: {source} is a {SOURCES[source].task} source, not {task}")
    rows = load_rows(spec, data_dir, hub)
    try:
        found = detect_columns(task, rows.column_names)
        pairs = [to_pair(task, row, found) for row in rows]
    except RowError as exc:
        raise DataError(f"split spec {spec!r}: {exc}") from exc
    pairs = [pair for pair in pairs if pair.label is not None and pair.label >= 0]
    if not pairs:
        raise DataError(f"split spec {spec!r}: no labelled rows")
    return pairs


def slice_of(text: str, rows: int) -> slice:
    """The rows `[START:STOP]` takes of `rows` rows, as `datasets` reads a split slice (negative counts from the end,
    `%` of the rows rounded to the closest; past the end is clipped), so a file and a shared source slice alike
    without `datasets` (the serving install has none). ValueError for any other spelling."""
    match = SLICE.match(text)
    if not match:
        raise ValueError(f"slice {text!r}: expected [START:STOP], e.g. [:-100], [-100:] or [:10%]")
    percent = bool(match["start_pct"] or match["stop_pct"])
    bounds = []
    for name, default in (("start", 0), ("stop", rows)):
        value = default if match[name] is None else int(match[name])
        if percent and match[name] is not None:
            if abs(value) > 100:
                raise ValueError(f"slice {text!r}: percent bounds lie between -100% and 100%")
            value = int(round(value * rows / 100.0))
        if value < 0:
            value = max(rows + value, 0)
        bounds.append(min(value, rows))
    return slice(*bounds)


def file_rows(spec: str, text: io.TextFormat = io.TextFormat()) -> list[tuple[str, int, dict | Exception]]:
    """(file, line, row or the error it raised) of every file a file spec names, in file order, sliced."""
    match = FILE_SPEC.match(spec.strip())
    try:
        fs, paths = io.data_files(match["path"])
    except (ValueError, OSError) as exc:
        raise DataError(f"data spec {spec!r}: {exc}") from None
    rows = []
    try:
        for path in paths:
            with io.open_file(fs, path) as stream:
                rows += [(path, line, row) for line, row in io.iter_rows(path, stream, text)]
    except io.DecodeError as exc:
        raise DataError(str(exc)) from None
    if not rows:
        raise DataError(f"data spec {spec!r}: no rows in {', '.join(paths)}")
    if match["slice"]:
        try:
            rows = rows[slice_of(match["slice"], len(rows))]
        except ValueError as exc:
            raise DataError(f"data spec {spec!r}: bad slice ({exc})") from None
    return rows


def load_file_pairs(
    spec: str,
    task: str,
    columns: Columns | None = None,
    text: io.TextFormat = io.TextFormat(),
    labels: dict[str, int] | None = None,
) -> list[Pair]:
    """A file spec's labelled pairs; any row that cannot be read stops the load with its file and line."""
    pairs = labelled_pairs(file_rows(spec, text), task, columns, labels)
    if not pairs:
        raise DataError(f"data spec {spec!r}: no labelled rows")
    return pairs


def labelled_pairs(
    rows: list[tuple[str, int, dict | Exception]],
    task: str,
    columns: Columns | None = None,
    labels: dict[str, int] | None = None,
) -> list[Pair]:
    """Rows -> pairs with a gold label (rows whose label is negative, SNLI's -1, are left out). The first row of
    each file fixes its columns; a row that cannot be read raises DataError with its file and line. A label no
    spelling reads stops the load too, after the count of the rows with the same label (and of any others unread):
    one run tells what --labels needs."""
    pairs, found = [], {}
    unread: dict[str, list] = {}  # label word -> [first file, first line, message, rows]
    for path, line, row in rows:
        try:
            if isinstance(row, Exception):
                raise row
            if path not in found:
                found[path] = detect_columns(task, row.keys(), columns)
            pair = to_pair(task, row, found[path], labels)
        except LabelError as exc:
            unread.setdefault(exc.word, [path, line, str(exc), 0])[3] += 1
            continue
        except RowError as exc:
            if path not in found:  # the first row's columns fit no mapping
                raise DataError(f"{path}: {exc}") from None
            raise DataError(f"{path}:{line}: {exc}") from None
        except ValueError as exc:
            raise DataError(f"{path}:{line}: {exc}") from None
        if pair.label is None:
            raise DataError(
                f"{path}:{line}: no gold label in field {found[path].label!r}; name the label column with "
                f"--columns ...,label=COL (accepted mappings: {accepted(task)})"
            )
        if pair.label >= 0 and not unread:
            pairs.append(pair)
    if unread:
        (path, line, message, count), *others = unread.values()
        also = f"; {len(others)} other unread labels in {sum(o[3] for o in others)} rows" if others else ""
        raise DataError(f"{path}:{line}: {message}: {count} rows have this label{also}")
    return pairs


def clean_questions(pairs: list[Pair]) -> tuple[list[Pair], dict[str, int]]:
    """Ranking: the pairs of questions with a correct and a wrong answer, and a count of what was dropped."""
    answers: dict[str, list[int]] = {}
    for pair in pairs:
        answers.setdefault(pair.group, []).append(pair.label > 0)
    no_correct = {g for g, labels in answers.items() if not any(labels)}
    no_wrong = {g for g, labels in answers.items() if all(labels)}
    kept = [p for p in pairs if p.group not in no_correct | no_wrong]
    dropped = {
        "questions": len(no_correct | no_wrong),
        "no_correct_answer": len(no_correct),
        "no_wrong_answer": len(no_wrong),
        "rows": len(pairs) - len(kept),
    }
    return kept, dropped


def describe(spec: str) -> dict[str, Any]:
    """What a card says of a spec's data: a shared source's licence and hub id, or a user's files with sha256."""
    if not is_file(spec):
        source = SOURCES[parse_spec(spec)[0]]
        return {"source": parse_spec(spec)[0], "licence": source.licence, "hub_id": source.hub_id}
    fs, paths = io.data_files(FILE_SPEC.match(spec.strip())["path"])
    return {"source": "file", "licence": USER_DATA, "files": [{"path": p, "sha256": _sha256(fs, p)} for p in paths]}


def _sha256(fs: Any, path: str) -> str:
    digest = hashlib.sha256()
    with fs.open_input_stream(path) as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
