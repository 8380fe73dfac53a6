"""`pairscore score --ray`: the batch scorer on Ray Data, for inputs that outgrow one machine.

Same rows in, same answers out as the local scorer (pairscore/jobs/score.py, whose row
mapping, scoring, error lines and output-schema rule this reuses):
- read tasks stream each input file through pairscore.io, so a bad line becomes an
  error row numbered as the local scorer numbers it (reading is parallel per file);
- a fixed pool of actors, each holding the model once (onnxruntime threads = its
  CPUs), scores batches of rows;
- one Datasink writes each write task's scored rows as a Parquet part and its
  rejected rows as a JSONL part under OUT/errors/, and counts both, so the summary
  proves scored + rejected = input rows.
The Parquet columns are those the local scorer's would have: fixed by the first chunk
of the first input file that has a scorable row (the driver scores that chunk itself).
Parts come in no particular order: each row carries its input `line` (and `file`, for
several files), the key that joins it back to the input. More rejected rows than
--max-rejected exit 1, as locally; a file that does not decode stops the job, and the
parts written so far are removed.
Ray is imported only in here, and lazily: the serving install never has it.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from pairscore import artifact, extras
from pairscore.io import DecodeError, TextFormat, data_files, iter_rows, open_file
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
from pairscore.schema import Columns
from pairscore.specs import FILE_SPEC

READ_CPUS = 0  # read tasks claim no CPU (reading is light next to scoring): the actors may hold every CPU


class InputError(ValueError):
    """An input or output location that cannot be used; the message names it."""


def output_folder(spec: str) -> tuple[pafs.FileSystem, str]:
    """The output folder, created; an existing non-empty one is refused rather than mixed with an earlier run."""
    fs, path = pafs.FileSystem.from_uri(spec) if "://" in spec else (pafs.LocalFileSystem(), os.path.abspath(spec))
    info = fs.get_file_info(path)
    if info.is_file or (info.type == pafs.FileType.Directory and fs.get_file_info(pafs.FileSelector(path))):
        raise InputError(
            f"{spec}: exists and is not an empty folder; --ray writes a folder of parts (remove it or pick another)"
        )
    fs.create_dir(f"{path}/errors", recursive=True)
    return fs, path


def read_numbered(
    batch: dict[str, Any], fs: pafs.FileSystem, chunk: int, text: TextFormat = TextFormat()
) -> Iterator[pa.Table]:
    """Ray read step: each file's rows in chunks, with file, line number, the row (pickled, any Parquet type
    survives) or the reason it could not be read."""
    for path in batch["path"]:
        with open_file(fs, path) as stream:
            for rows in chunks(iter_rows(path, stream, text), chunk):
                failed = [isinstance(row, Exception) for _, row in rows]
                yield pa.table(
                    {
                        "file": pa.array([path] * len(rows), pa.string()),
                        "line": pa.array([line for line, _ in rows], pa.int64()),
                        "row": pa.array(
                            [None if bad else pickle.dumps(row) for (_, row), bad in zip(rows, failed)], pa.binary()
                        ),
                        "error": pa.array(
                            [str(row) if bad else None for (_, row), bad in zip(rows, failed)], pa.string()
                        ),
                    }
                )


class Scorer:
    """One actor of the pool: the model loaded once from its files (shipped with the actor, so
    cluster nodes need no copy), onnxruntime threads = the actor's CPUs."""

    def __init__(
        self,
        model_files: dict[str, bytes],
        threads: int,
        schema: pa.Schema | None,
        target: str,
        name_files: bool,
        columns: Columns | None = None,
    ):
        with tempfile.TemporaryDirectory(prefix="pairscore-model-") as folder:  # everything is read at load
            for name, data in model_files.items():
                (Path(folder) / name).write_bytes(data)
            self.model = PairModel(folder, threads=threads)
        self.schema = schema if schema is not None else pa.schema([])  # no scorable row in the whole input
        self.target, self.name_files, self.columns = target, name_files, columns

    def __call__(self, batch: pa.Table) -> pa.Table:
        """Rows in; out: `scored` (the output row, as a struct of the output schema) or `rejected` (its error line)."""
        files, lines = batch["file"].to_pylist(), batch["line"].to_pylist()
        rows = [
            ValueError(error) if error is not None else pickle.loads(row)
            for row, error in zip(batch["row"].to_pylist(), batch["error"].to_pylist())
        ]
        keys = [{"file": f, "line": n} if self.name_files else {"line": n} for f, n in zip(files, lines)]
        good, bad = score_rows(self.model, list(zip(keys, rows)), self.columns)
        outputs = [out for _, _, out in good]
        refused = unknown_fields(outputs, self.schema.names, self.target)
        table = fit_schema(outputs, self.schema, refused)
        bad += [(good[i][0], reason, good[i][1]) for i, reason in refused.items()]
        errors = [error_line(*reject) for reject in bad]
        scored = (
            table.to_struct_array().combine_chunks() if table.num_columns else pa.nulls(table.num_rows, pa.struct([]))
        )
        return pa.table(
            {
                "scored": pa.concat_arrays([scored, pa.nulls(len(errors), scored.type)]),
                "rejected": pa.array([None] * table.num_rows + errors, pa.string()),
            }
        )


def parts_sink(fs: pafs.FileSystem, folder: str, schema: pa.Schema | None) -> Any:
    """A Ray Datasink writing one Parquet part and one errors part per write task; it keeps the totals."""
    from ray.data import Datasink
    from ray.data.block import BlockAccessor

    run = uuid.uuid4().hex[:8]

    class PartsDatasink(Datasink):
        totals = (0, 0)

        def write(self, blocks: Any, ctx: Any) -> tuple[int, int]:
            name = f"part-{run}-{ctx.task_idx:05d}"
            parquet = errors = None
            scored = rejected = 0
            try:
                for block in blocks:
                    table = BlockAccessor.for_block(block).to_arrow()
                    good = table.filter(pc.is_null(table["rejected"]))
                    if good.num_rows:
                        parquet = parquet or pq.ParquetWriter(f"{folder}/{name}.parquet", schema, filesystem=fs)
                        parquet.write_table(pa.Table.from_struct_array(good["scored"]).cast(schema))
                    lines = table["rejected"].drop_null().to_pylist()
                    if lines:
                        errors = errors or fs.open_output_stream(f"{folder}/errors/{name}.jsonl")
                        errors.write("".join(lines).encode("utf-8"))
                    scored, rejected = scored + good.num_rows, rejected + len(lines)
            finally:
                for handle in (parquet, errors):
                    if handle is not None:
                        handle.close()
            return scored, rejected

        def on_write_complete(self, write_result: Any) -> None:
            self.totals = tuple(sum(counts) for counts in zip((0, 0), *write_result.write_returns))

    return PartsDatasink()


def driver_schema(
    model: PairModel,
    fs: pafs.FileSystem,
    files: list[str],
    chunk: int,
    columns: Columns | None = None,
    text: TextFormat = TextFormat(),
) -> pa.Schema | None:
    """The output schema the local scorer would fix: from the first chunk that has a scorable row (its key: `file`
    too when there are several files). A --columns mapping is checked against each file's first row first (RowError
    naming the file)."""
    if columns:
        for path in files:
            with open_file(fs, path) as stream:
                first_row_columns(model.task, iter_rows(path, stream, text), columns, path)
    for path in files:
        with open_file(fs, path) as stream:
            for rows in chunks(iter_rows(path, stream, text), chunk):
                keyed = [({"file": path, "line": n} if len(files) > 1 else {"line": n}, row) for n, row in rows]
                good, _ = score_rows(model, keyed, columns)
                if good:
                    return first_schema([out for _, _, out in good])
    return None


def run_pipeline(
    args: argparse.Namespace, model: PairModel, in_fs: pafs.FileSystem, files: list[str], schema: Any, sink: Any
) -> float:
    """Read every file in parallel, score on a pool of actors, write through the sink; returns the seconds it took."""
    import ray.data  # optional: the `ray` extra

    model_files = {name: (model.model_dir / name).read_bytes() for name in [artifact.CARD_FILE, *model.card.files]}
    ray.data.DataContext.get_current().enable_progress_bars = not args.no_progress
    actors = args.concurrency or max(1, int(ray.cluster_resources().get("CPU", 1)) // args.num_cpus)
    started = time.perf_counter()
    (
        ray.data.from_items([{"path": path} for path in files], override_num_blocks=len(files))
        .map_batches(
            read_numbered,
            batch_size=1,
            fn_kwargs={"fs": in_fs, "chunk": args.chunk, "text": args.text},
            num_cpus=READ_CPUS,
            compute=ray.data.TaskPoolStrategy(size=min(actors, len(files))),
        )
        .map_batches(
            Scorer,
            batch_size=args.chunk,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_cpus=args.num_cpus,
            fn_constructor_kwargs={
                "model_files": model_files,
                "threads": args.num_cpus,
                "schema": schema,
                "target": args.output,
                "name_files": len(files) > 1,
                "columns": args.columns,
            },
        )
        .write_datasink(sink)
    )
    return time.perf_counter() - started


def main(args: argparse.Namespace) -> int:
    """Run `pairscore score --ray` with the local scorer's parsed arguments."""
    try:
        import ray  # optional: the `ray` extra
    except ModuleNotFoundError:
        print(extras.needs("pairscore score --ray", "ray", "ray"), file=sys.stderr)
        return 2
    try:
        if args.errors:
            raise InputError(f"--errors {args.errors}: with --ray, rejected rows go to {args.output}/errors/")
        if FILE_SPEC.match(args.input.strip())["slice"]:
            raise InputError(f"{args.input}: --ray reads whole files in parallel; a slice is for one local file")
        model = PairModel(args.model, threads=args.num_cpus)
        check_model(model, model.task)
        in_fs, files = data_files(args.input)
        schema = driver_schema(model, in_fs, files, args.chunk, args.columns, args.text)
        out_fs, folder = output_folder(args.output)
    except (ValueError, OSError, artifact.ArtifactError) as exc:
        print(f"pairscore score: {exc}", file=sys.stderr)
        return 2
    started_here = not ray.is_initialized()
    if started_here:
        ray.init()  # a local cluster, or the one RAY_ADDRESS names
    try:
        sink = parts_sink(out_fs, folder, schema)
        seconds = run_pipeline(args, model, in_fs, files, schema, sink)
    except Exception as exc:  # Ray wraps what a task raised; a file that does not decode is the user's to fix
        cause = decode_error(exc)
        if cause is None:
            raise
        out_fs.delete_dir_contents(folder)
        print(f"pairscore score: {cause}; nothing kept in {args.output}", file=sys.stderr)
        return 2
    finally:
        if started_here:
            ray.shutdown()
    scored, rejected = sink.totals
    print(summary(scored, rejected, args.output, f"{args.output}/errors/", seconds), file=sys.stderr)
    status, why = verdict(rejected, args.max_rejected, f"{args.output}/errors/")
    if why:
        print(why, file=sys.stderr)
    return status


def decode_error(exc: BaseException) -> DecodeError | None:
    """The DecodeError a read task raised, however Ray wrapped it (its cause chain), else None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, DecodeError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__ or getattr(exc, "cause", None)
    return None
