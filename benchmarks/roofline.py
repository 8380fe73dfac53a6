"""The encoder against the hardware's limit (issue 27): FLOPs per token, what onnxruntime reaches by batch and length,
the CPU's peak from its flags and clock, the same for every student size models v4 weighs, and what the runtime
around the graph (tokenization, buckets, padding, head) costs in process.

Tables:
  cpu        the peak: cores x clock x FLOPs per cycle from /proc/cpuinfo's flags (the FMA port count is an
             assumption the table states), and a large single-precision GEMM in onnxruntime (MLAS, the LSTM's own
             GEMM) on 1 and on all cores: the fp32 ceiling reached in practice
  grid       the shipped encoder graph alone (no tokenization): texts/s and GFLOP/s by batch and length, on one
             onnxruntime call with 1 intra-op thread, with 2, and as the runtime runs it now (the batch split in two
             one-thread calls at once)
  sizes      the same at 64 texts x 16 tokens for each size: hidden 128/256/384, 1 or 2 layers, 128- or 256-d table
             (graphs built by training.encoder with random weights and exported as export does: timing only)
  chunking   padded tokens per real token of real requests, fixed 64-text chunks (before) against length buckets
  in_process PairModel.score_pairs on SNLI batches of 64 pairs, before (one 2-thread session, fixed 64-text chunks,
             full encodings) and now, each against its encoder graph alone on the same token ids, and where the
             rest of the time goes

FLOPs count the recurrent cells' matrix products (2 x gates x hidden x (input + hidden) per token, direction and
layer); the gate nonlinearities and the pooling are left out, as a roofline does.

    python -m benchmarks.roofline [--models models] [--seconds 0.6] [--sizes 128x1x128 256x2x256 ...]
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from benchmarks import harness
from benchmarks.harness import md_table, relative
from pairscore import artifact
from pairscore.card import read
from pairscore.runtime import chunks
from pairscore.runtime.model import DEFAULT_CHUNK, PairModel, encoder_inputs, open_session

GATES = {"lstm": 4, "gru": 3, "rnn": 1}
BATCHES = (1, 8, 32, 64, 256)
LENGTHS = (8, 16, 32, 64)
SIZES = ("128x1x128", "256x1x128", "384x1x128", "128x2x128", "256x2x128", "384x2x128", "256x1x256", "384x2x256")
SIZE_CELL = (64, 16)  # texts x tokens of the sizes table
PAIR_BATCH = 64  # the in-process target's batch of pairs
MODES = ("1 thread", "2 threads (one call)", "2 one-thread calls")


# ----------------------------------------------------------------------------- the model and the machine


def flops_per_token(arch: dict[str, Any]) -> float:
    """Matrix FLOPs of the recurrent layers per token (every direction and layer; a card's `architecture`)."""
    hidden, layers = int(arch["hidden_size"]), int(arch["layers"])
    directions = 2 if arch.get("bidirectional", True) else 1
    gates = GATES[arch.get("cell", "lstm")]
    total, size = 0.0, int(arch["embedding_dim"])
    for _ in range(layers):
        total += directions * 2 * gates * hidden * (size + hidden)
        size = directions * hidden
    return total


def cpu_peak() -> dict[str, Any]:
    """Peak FLOP/s from /proc/cpuinfo: cores x clock x (SIMD lanes x 2 for FMA x FMA ports) per cycle.

    cpuinfo names the vector extensions but not how many FMA pipes a core has: 2 is assumed (Xeon Gold/Platinum
    have two 512-bit FMA units; AMD's Zen 2-4 two 256-bit ones, which run AVX-512 in two halves). The clock is the
    one cpuinfo reports, not the turbo a core may reach. AMX's bf16 peak is Intel's 1,024 FLOPs per cycle per core.
    """
    flags: set[str] = set()
    mhz, vendor = float("nan"), "?"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "flags" and not flags:
                flags = set(value.split())
            elif key == "cpu MHz" and mhz != mhz:
                mhz = float(value)
            elif key == "vendor_id":
                vendor = value.strip()
    cores = os.cpu_count() or 1
    wide = "avx512f" in flags and vendor == "GenuineIntel"
    lanes = 16 if wide else 8 if {"avx2", "fma"} <= flags else 4
    per_cycle = lanes * 2 * 2  # FMA = 2 FLOPs, 2 ports (assumed)
    ghz = mhz / 1000
    return {
        "vendor": vendor,
        "mhz": mhz,
        "cores": cores,
        "extensions": sorted(flags & {"avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8"}),
        "fp32_flops_per_cycle": per_cycle,
        "fp32_peak_gflops_per_core": ghz * per_cycle,
        "fp32_peak_gflops": cores * ghz * per_cycle,
        "bf16_avx512_peak_gflops": cores * ghz * per_cycle * 2 if "avx512_bf16" in flags else None,
        "bf16_amx_peak_gflops": cores * ghz * 1024 if "amx_bf16" in flags else None,
    }


def gemm_gflops(threads: int, seconds: float, size: int = 1024) -> float:
    """A size^3 fp32 MatMul in onnxruntime on `threads` intra-op threads: the GEMM (MLAS) the LSTM kernel calls."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [size, size])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [size, size])
    w = helper.make_tensor("w", TensorProto.FLOAT, [size, size], np.random.default_rng(0).random(size * size))
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "gemm", [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed = {"x": np.random.default_rng(1).random((size, size), dtype=np.float32)}
    return 2 * size**3 / median_seconds(lambda: session.run(None, feed), seconds) / 1e9


# ----------------------------------------------------------------------------- timing the graph


def median_seconds(call: Callable[[], Any], seconds: float, min_calls: int = 5) -> float:
    """Median wall time of call() over about `seconds` (at least min_calls, after two warm-up calls)."""
    call(), call()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_calls or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def random_feed(batch: int, length: int, seed: int = 0) -> dict[str, np.ndarray]:
    ids = np.random.default_rng(seed).integers(1000, 30000, (batch, length), dtype=np.int64)
    return {"input_ids": ids, "lengths": np.full(batch, length, dtype=np.int64)}


class Graph:
    """One encoder graph on a 1-thread and a 2-thread session, and a pool for two 1-thread calls at once."""

    def __init__(self, path: Path, pool: ThreadPoolExecutor) -> None:
        self.sessions = {t: open_session(path, t, artifact.ENCODER_INPUTS, artifact.ENCODER_OUTPUT) for t in (1, 2)}
        self.pool = pool

    def run(self, mode: str, feed: dict[str, np.ndarray]) -> None:
        if mode == MODES[2] and len(feed["lengths"]) > 1:
            half = len(feed["lengths"]) // 2
            parts = [{k: v[:half] for k, v in feed.items()}, {k: v[half:] for k, v in feed.items()}]
            list(self.pool.map(lambda f: self.sessions[1].run([artifact.ENCODER_OUTPUT], f), parts))
            return
        self.sessions[2 if mode == MODES[1] else 1].run([artifact.ENCODER_OUTPUT], feed)

    def cell(self, mode: str, batch: int, length: int, flops: float, seconds: float) -> dict[str, float]:
        feed = random_feed(batch, length)
        took = median_seconds(lambda: self.run(mode, feed), seconds)
        return {"ms": 1000 * took, "texts_per_s": batch / took, "gflops": batch * length * flops / took / 1e9}


def grid(graph: Graph, flops: float, batches: Sequence[int], lengths: Sequence[int], seconds: float) -> list[dict]:
    return [
        {"mode": mode, "batch": b, "length": t, **graph.cell(mode, b, t, flops, seconds)}
        for mode in MODES
        for t in lengths
        for b in batches
    ]


def size_arch(size: str) -> dict[str, Any]:
    hidden, layers, table = (int(x) for x in size.split("x"))
    return {"cell": "lstm", "layers": layers, "bidirectional": True, "hidden_size": hidden, "embedding_dim": table}


def build_graph(arch: dict[str, Any], folder: Path) -> Path:
    """An encoder of `arch` with random weights, exported as training.export does (TorchScript exporter, the
    artifact's names and dims, the table stored as float16): the served graph's shape, for timing only."""
    import torch

    from training.encoder import SentenceEncoder
    from training.export.graphs import OPSET, EncoderGraph, store_table_fp16

    torch.manual_seed(0)
    table = torch.nn.Embedding(30522, arch["embedding_dim"], padding_idx=0)
    encoder = EncoderGraph(SentenceEncoder(table, "lstm", arch["hidden_size"], arch["layers"])).eval()
    path = folder / f"encoder_{arch['hidden_size']}x{arch['layers']}x{arch['embedding_dim']}.onnx"
    ids, lengths = torch.tensor([[5, 6, 7, 0], [8, 9, 10, 11]]), torch.tensor([3, 4])
    torch.onnx.export(
        encoder,
        (ids, lengths),
        str(path),
        input_names=list(artifact.ENCODER_INPUTS),
        output_names=encoder.outputs,
        dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "lengths": {0: "batch"}}
        | {name: {0: "batch"} for name in encoder.outputs},
        opset_version=OPSET,
        dynamo=False,
    )
    store_table_fp16(path)
    return path


def sizes(args: Any, shipped: Path, pool: ThreadPoolExecutor) -> list[dict[str, Any]]:
    rows = []
    shipped_arch = read(shipped.parent).architecture
    shipped_size = f"{shipped_arch['hidden_size']}x{shipped_arch['layers']}x{shipped_arch['embedding_dim']}"
    with tempfile.TemporaryDirectory(prefix="roofline-") as folder:
        for size in args.sizes:
            arch = size_arch(size)
            path = shipped if size == shipped_size else build_graph(arch, Path(folder))
            graph, flops = Graph(path, pool), flops_per_token(arch)
            cells = {mode: graph.cell(mode, *SIZE_CELL, flops, args.seconds) for mode in MODES}
            rows.append({"size": size, "shipped": path == shipped, "flops_per_token": flops, "cells": cells})
    return rows


# ----------------------------------------------------------------------------- the runtime around the graph


class Engine:
    """PairModel's engine as it was before issue 27 (commit ce1e405) with its changes added one at a time, for the
    same-run comparison: `fast` token ids without offsets (encode_batch_fast), `buckets` (length buckets instead of
    fixed 64-text chunks of the length-sorted texts), `pooled` (one-thread calls, two at once, instead of one session
    with 2 intra-op threads). All three on is what PairModel runs."""

    def __init__(self, model: PairModel, fast: bool, buckets: bool, pooled: bool) -> None:
        self.model, self.fast, self.buckets, self.pooled = model, fast, buckets, pooled
        self.session = (
            model._encoder
            if pooled
            else open_session(model.model_dir / model.encoder_file, 2, artifact.ENCODER_INPUTS, artifact.ENCODER_OUTPUT)
        )

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        encode = self.model.tokenizer.encode_batch_fast if self.fast else self.model.tokenizer.encode_batch
        return [enc.ids for enc in encode(texts)]

    def feeds(self, ids: Sequence[Sequence[int]]) -> tuple[list[tuple[Any, dict[str, np.ndarray]]], bool]:
        lengths = [len(seq) for seq in ids]
        if self.buckets:
            rows = chunks.plan(lengths, DEFAULT_CHUNK, 2 if self.pooled else 1)
        else:
            order = sorted(range(len(ids)), key=lambda i: lengths[i])
            rows = [np.array(order[s : s + DEFAULT_CHUNK]) for s in range(0, len(order), DEFAULT_CHUNK)]
        threaded = self.pooled and chunks.worth_threads(lengths, rows)  # pooled comes with buckets: longest first
        return [(r, encoder_inputs([ids[i] for i in r])) for r in rows], threaded

    def run(self, feeds: list[tuple[Any, dict[str, np.ndarray]]], threaded: bool, n: int) -> np.ndarray:
        if self.pooled:  # PairModel's own: the calling thread and its helpers take the calls in turn
            return self.model.run_encoder(feeds, n, threaded)
        out = np.zeros((n, self.model.dim), dtype=np.float32)
        for rows, feed in feeds:
            out[rows] = self.session.run([artifact.ENCODER_OUTPUT], feed)[0]
        return out

    def score_pairs(self, a: list[str], b: list[str]) -> np.ndarray:
        texts = a + b
        unique = list(dict.fromkeys(texts))
        ids = self.token_ids(unique)
        vectors = self.run(*self.feeds(ids), len(ids))
        index = {text: row for row, text in enumerate(unique)}
        vectors = vectors[[index[t] for t in texts]]
        return self.model.head(vectors[: len(a)], vectors[len(a) :])


ENGINES = {  # name -> (fast token ids, length buckets, one-thread calls on 2 threads)
    "before (ce1e405)": (False, False, False),
    "+ token ids without offsets": (True, False, False),
    "+ length buckets": (True, True, False),
    "+ one-thread calls, 2 at once (now)": (True, True, True),
}


def batch_texts(pairs: Sequence[tuple[str, str]]) -> tuple[list[str], list[str], list[str]]:
    a, b = [p for p, _ in pairs], [h for _, h in pairs]
    return a, b, list(dict.fromkeys(a + b))


def in_process(model: PairModel, pairs: list[tuple[str, str]], batches: int) -> dict[str, Any]:
    """Pairs/s at PAIR_BATCH pairs per call over the same `batches` batches (each run taken in turn, best of 3
    passes): the engine before issue 27 and with each change added, PairModel itself, and the encoder graph alone on
    the same token ids in the same calls, before and now; and now's time per stage."""
    groups = [pairs[i : i + PAIR_BATCH] for i in range(0, batches * PAIR_BATCH, PAIR_BATCH)]
    texts = [batch_texts(g) for g in groups]
    engines = {name: Engine(model, *flags) for name, flags in ENGINES.items()}
    before = engines["before (ce1e405)"]
    ids = [model.token_ids(unique) for _, _, unique in texts]
    before_feeds = [before.feeds(i) for i in ids]
    calls = [model.encoder_calls(i) for i in ids]
    for a, b, _ in texts[:4]:  # every engine gives the same answers, bit for bit
        for engine in engines.values():
            np.testing.assert_array_equal(model.score_pairs(a, b), engine.score_pairs(a, b))
    runs: dict[str, Callable[[], Any]] = {
        name: (lambda e=engine: [e.score_pairs(a, b) for a, b, _ in texts]) for name, engine in engines.items()
    }
    runs["PairModel.score_pairs"] = lambda: [model.score_pairs(a, b) for a, b, _ in texts]
    runs["before: graph alone"] = lambda: [before.run(*f, len(i)) for f, i in zip(before_feeds, ids)]
    runs["now: graph alone"] = lambda: [model.run_encoder(c, len(i), t) for (c, t), i in zip(calls, ids)]
    best = {name: float("inf") for name in runs}
    for _ in range(3):
        for name, call in runs.items():
            t0 = time.perf_counter()
            call()
            best[name] = min(best[name], time.perf_counter() - t0)
    n_pairs = len(groups) * PAIR_BATCH
    return {
        "pairs": n_pairs,
        "texts_per_pair": sum(len(i) for i in ids) / n_pairs,
        "pairs_per_s": {name: n_pairs / s for name, s in best.items()},
        "before_share_of_graph": best["before: graph alone"] / best["before (ce1e405)"],
        "now_share_of_graph": best["now: graph alone"] / best["PairModel.score_pairs"],
        "stages_us_per_pair": stages(model, texts, n_pairs),
    }


def stages(model: PairModel, texts: list[tuple[list[str], list[str], list[str]]], n_pairs: int) -> dict[str, float]:
    """Now's time per pair in each step of score_pairs, timed step by step over the same batches."""
    spent = dict.fromkeys(("tokenization", "buckets and padding", "encoder graph", "distinct texts", "head"), 0.0)
    for a, b, unique in texts:
        t0 = time.perf_counter()
        ids = model.token_ids(unique)
        t1 = time.perf_counter()
        calls, threaded = model.encoder_calls(ids)
        t2 = time.perf_counter()
        vectors = model.run_encoder(calls, len(ids), threaded)
        t3 = time.perf_counter()
        index = {text: row for row, text in enumerate(unique)}
        vectors = vectors[[index[t] for t in a + b]]
        t4 = time.perf_counter()
        model.head(vectors[: len(a)], vectors[len(a) :])
        t5 = time.perf_counter()
        for stage, took in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            spent[stage] += took
    return {k: 1e6 * v / n_pairs for k, v in spent.items()}


def chunking(model: PairModel, pairs: list[tuple[str, str]], answers: list[str]) -> list[dict[str, Any]]:
    """Padded tokens per real token, fixed 64-text chunks (before) against length buckets, on real requests."""
    rows = []
    requests = {f"{n} pair{'s' * (n > 1)}": [pairs[i : i + n] for i in range(0, 8 * n, n)] for n in (1, 8, 64, 256)}
    for name, groups in requests.items():
        lens = [[len(x) for x in model.token_ids(batch_texts(g)[2])] for g in groups]
        rows.append({"request": f"SNLI, {name}", **padding(lens)})
    lens = [[len(x) for x in model.token_ids(answers[i : i + 1000])] for i in range(0, 3000, 1000)]
    rows.append({"request": "WikiQA /rank, 1,000 answers", **padding(lens)})
    return rows


def padding(requests: list[list[int]]) -> dict[str, float]:
    real = sum(sum(lens) for lens in requests)
    fixed = sum(
        len(c) * max(c)
        for lens in requests
        for c in (sorted(lens)[s : s + DEFAULT_CHUNK] for s in range(0, len(lens), DEFAULT_CHUNK))
    )
    calls = [chunks.plan(lens, DEFAULT_CHUNK) for lens in requests]
    bucketed = sum(len(c) * lens[c[0]] for lens, plan in zip(requests, calls) for c in plan)
    return {
        "fixed_64": fixed / real,
        "buckets": bucketed / real,
        "calls_fixed": sum(-(-len(lens) // DEFAULT_CHUNK) for lens in requests) / len(requests),
        "calls_buckets": sum(len(p) for p in calls) / len(requests),
    }


# ----------------------------------------------------------------------------- report


def records(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`roofline:in_process`: PairModel at 64 pairs per call against its encoder graph alone, for the targets."""
    run = result.get("in_process")
    if not run:
        return {}
    return {
        "roofline:in_process": {
            "share_pct": 100 * run["now_share_of_graph"],
            "pairs_per_s": run["pairs_per_s"]["PairModel.score_pairs"],
            "graph_pairs_per_s": run["pairs_per_s"]["now: graph alone"],
        }
    }


def pct(part: float, whole: float | None) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "n/a"


def markdown(r: dict[str, Any]) -> str:
    cpu, flops = r["cpu"], r["flops_per_token"]
    peak1, peak = cpu["fp32_peak_gflops_per_core"], cpu["fp32_peak_gflops"]
    parts = ["### Roofline of the encoder (benchmarks/roofline.py)"]
    amx = f"{cpu['bf16_amx_peak_gflops']:,.0f}" if cpu["bf16_amx_peak_gflops"] else "no AMX"
    parts.append(
        md_table(
            ["", ""],
            [
                ["CPU", f"{r['machine']['cpu']} ({cpu['vendor']}), {cpu['cores']} cores at {cpu['mhz']:,.0f} MHz"],
                ["vector extensions", ", ".join(cpu["extensions"])],
                ["fp32 peak (2 FMA ports assumed)", f"{peak:,.0f} GFLOP/s ({peak1:,.0f} per core)"],
                ["bf16 peak: AVX-512 BF16 / AMX", f"{cpu['bf16_avx512_peak_gflops'] or 0:,.0f} / {amx} GFLOP/s"],
                *[
                    [f"fp32 GEMM 1024³ in onnxruntime, {t} thread(s)", f"{g:,.0f} GFLOP/s"]
                    for t, g in r["gemm"].items()
                ],
                ["shipped encoder: FLOPs per token", f"{flops / 1e6:.3f} M ({r['architecture']})"],
            ],
        )
    )
    rows = []
    for c in r["grid"]:
        cores = 1 if c["mode"] == MODES[0] else min(2, cpu["cores"])
        rows.append(
            [
                c["mode"],
                c["batch"],
                c["length"],
                c["ms"],
                c["texts_per_s"],
                c["gflops"],
                pct(c["gflops"], peak1 * cores),
            ]
        )
    parts.append(
        "Shipped encoder graph alone (random ids, every text the given length; of peak: of the fp32 peak of the "
        "cores the mode uses):\n\n"
        + md_table(["mode", "texts", "tokens", "ms per call", "texts/s", "GFLOP/s", "of peak"], rows)
    )
    rows = []
    for s in r["sizes"]:
        cells = s["cells"]
        best = max(cells.values(), key=lambda c: c["gflops"])
        rows.append(
            [
                s["size"] + (" (shipped)" if s["shipped"] else ""),
                f"{s['flops_per_token'] / 1e6:.2f}",
                *[f"{cells[m]['texts_per_s']:,.0f} / {cells[m]['gflops']:.0f}" for m in MODES],
                pct(best["gflops"], peak),
            ]
        )
    b, t = SIZE_CELL
    parts.append(
        f"Student sizes (hidden × layers × table; random weights), {b} texts × {t} tokens: texts/s / GFLOP/s\n\n"
        + md_table(["size", "MFLOP/token", *MODES, "best, of the 2-core peak"], rows)
    )
    rows = [[c["request"], c["fixed_64"], c["buckets"], c["calls_fixed"], c["calls_buckets"]] for c in r["chunking"]]
    parts.append(
        "Padding: encoder row-tokens per real token, before (fixed 64-text chunks) and now (length buckets)\n\n"
        + md_table(["request", "fixed 64", "buckets", "calls, fixed", "calls, buckets"], rows)
    )
    ip = r["in_process"]
    base = ip["pairs_per_s"]["before (ce1e405)"]
    rows = [[name, pps, f"{pps / base:.2f}×"] for name, pps in ip["pairs_per_s"].items()]
    rows += [
        [f"{w}: PairModel's share of its graph alone", f"{100 * ip[f'{w}_share_of_graph']:.0f}%", ""]
        for w in ("before", "now")
    ]
    parts.append(
        f"In process: SNLI validation, {PAIR_BATCH} pairs per call ({ip['pairs']} pairs, "
        f"{ip['texts_per_pair']:.2f} distinct texts per pair), pairs/s, best of 3 passes\n\n"
        + md_table(["", "pairs/s", "vs before"], rows)
    )
    stage = ip["stages_us_per_pair"]
    total = sum(stage.values())
    parts.append(
        "Now, where a pair's time goes in process (µs per pair)\n\n"
        + md_table(["stage", "µs per pair", "share"], [[k, v, pct(v, total)] for k, v in stage.items()])
    )
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__, "roofline")
    p.add_argument("--seconds", type=float, default=0.6, help="timed seconds per cell (at least 5 calls)")
    p.add_argument("--batches", nargs="+", type=int, default=list(BATCHES))
    p.add_argument("--lengths", nargs="+", type=int, default=list(LENGTHS))
    p.add_argument("--sizes", nargs="+", default=list(SIZES), help="hidden x layers x table, e.g. 256x2x256")
    p.add_argument("--pair-batches", type=int, default=32, help=f"batches of {PAIR_BATCH} pairs in process")
    args = harness.parse(p, argv, seconds=0.05, batches=[1, 64], lengths=[16], sizes=SIZES[:2], pair_batches=4)
    root = harness.data_dir(args.data_dir)
    folder = args.models / "entailment"
    model = PairModel(folder)
    arch = read(folder).architecture
    pairs = harness.load_pairs(root, "snli")
    _, answers = harness.answer_pool(root)
    settings = {"seconds_per_cell": args.seconds, "threads": model.threads}
    with harness.measuring(args, models=relative(str(args.models.resolve())), **settings) as result:
        shipped = folder / model.encoder_file
        result["cpu"] = cpu_peak()
        result["architecture"] = (
            f"{arch['cell']} {arch['layers']}×{arch['hidden_size']} bidirectional over {arch['embedding_dim']}-d"
        )
        result["flops_per_token"] = flops_per_token(arch)
        result["gemm"] = {t: gemm_gflops(t, args.seconds) for t in (1, min(2, os.cpu_count() or 1))}
        with ThreadPoolExecutor(2) as pool:
            result["grid"] = grid(
                Graph(shipped, pool), result["flops_per_token"], args.batches, args.lengths, args.seconds
            )
            result["sizes"] = sizes(args, shipped, pool)
        result["chunking"] = chunking(model, pairs, answers)
        result["in_process"] = in_process(model, pairs, args.pair_batches)
    return harness.publish(result, args.out, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
