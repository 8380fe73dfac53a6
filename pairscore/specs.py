"""Split specs: where a task's pairs come from, as text a config can hold ('snli/validation[:-1000]', 'hub:snli/train').

Every source loads in its hub schema, from a local data directory (`datasets.load_dataset("json", ...)`) or from
its hub id, and goes through pairscore.schema, the one mapping layer shared with serving. Parsing a spec needs
nothing but the standard library, so serving-side code and tests can name splits; loading rows needs `datasets`
(the `train` extra), imported where rows are loaded.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairscore.schema import Pair, RowError, detect_columns, to_pair

DATA_DIR_ENV = "PAIRSCORE_DATA_DIR"
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
}
SPEC = re.compile(r"^(?P<hub>hub:)?(?P<source>\w+)/(?P<split>\w+)(?P<slice>\[[-0-9:%]*\])?$")


class DataError(ValueError):
    """A split spec or data file that cannot be used; the message names it."""


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The flag if given, else $PAIRSCORE_DATA_DIR, else ../shared/data (relative to the working directory)."""
    return Path(data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


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
        raise DataError(f"split spec {spec!r}: unknown source {match['source']!r}, expected one of {sorted(SOURCES)}")
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
    return datasets.load_dataset("json", data_files={split: str(path)}, split=selection)


def load_pairs(spec: str, task: str, data_dir: str | Path | None = None, hub: bool = False) -> list[Pair]:
    """Canonical pairs of one split spec; rows without a gold label (None, SNLI's -1) are dropped."""
    source = parse_spec(spec)[0]
    if SOURCES[source].task != task:
        raise DataError(f"split spec {spec!r}: {source} is a {SOURCES[source].task} source, not {task}")
    rows = load_rows(spec, data_dir, hub)
    try:
        columns = detect_columns(task, rows.column_names)
        pairs = [to_pair(task, row, columns) for row in rows]
    except RowError as exc:
        raise DataError(f"split spec {spec!r}: {exc}") from exc
    pairs = [pair for pair in pairs if pair.label is not None and pair.label >= 0]
    if not pairs:
        raise DataError(f"split spec {spec!r}: no labelled rows")
    return pairs
