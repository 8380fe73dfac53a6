"""`pairscore export CKPT --out models/TASK [--int8]`: a checkpoint -> a served model folder.

Writes encoder.onnx, head.onnx, tokenizer.json and card.json (docs/artifact-format.md),
then checks itself: every graph input dim symbolic, and onnxruntime (through the
serving code) within 1e-5 of torch on a real padded batch of mixed lengths, the
max-pool winners included (each a real token whose torch state is the max).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from tokenizers import Tokenizer

from pairscore import artifact, machine, metrics, tasks
from pairscore.features import PairFeatures
from pairscore.jobs.evaluate import calibration_errors, evaluate
from pairscore.oov import fallback_token, oov_rates
from pairscore.runtime.model import PairModel
from pairscore.schema import Pair, parse_columns
from pairscore.specs import DataError, load_pairs
from training import calibration
from training.batching import padded
from training.heads import ServingHead
from training.model import PairModule
from training.pretrained import save_weights
from training.runs import checkpoint_of

PARITY_TOLERANCE = 1e-5
PARITY_TEXTS = 64
OPSET = 17
VERSIONED = (
    "pairscore",
    "torch",
    "pytorch-lightning",
    "onnx",
    "onnxruntime",
    "tokenizers",
    "numpy",
    "datasets",
    "torchmetrics",
)


class ExportError(RuntimeError):
    """The export cannot produce a correct model folder; the message says why."""


class EncoderGraph(torch.nn.Module):
    """The encoder with the artifact's input and output names: `embeddings`, and `winners` for max pooling."""

    def __init__(self, encoder: torch.nn.Module):
        super().__init__()
        self.encoder = encoder
        self.outputs = [artifact.ENCODER_OUTPUT] + ([artifact.ENCODER_WINNERS] if encoder.pooling == "max" else [])

    def forward(
        self, input_ids: torch.Tensor, lengths: torch.Tensor
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if self.encoder.pooling == "max":
            return self.encoder.forward_with_winners(input_ids, lengths)
        return self.encoder(input_ids, lengths)


def hyperparameters(checkpoint: dict[str, Any], key: str) -> dict[str, Any]:
    """Saved init arguments, without LightningCLI's private entries (`_instantiator`, ...)."""
    return {name: value for name, value in checkpoint[key].items() if not name.startswith("_")}


def load_checkpoint(path: Path) -> tuple[PairModule, dict[str, Any]]:
    """The model (eval mode) and the raw checkpoint (tokenizer, data, hyperparameters)."""
    if not path.is_file():
        raise ExportError(f"{path}: checkpoint not found")
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    if "pairscore" not in checkpoint or "datamodule_hyper_parameters" not in checkpoint:
        raise ExportError(f"{path}: not a checkpoint written by `pairscore train`")
    model = PairModule(**hyperparameters(checkpoint, "hyper_parameters"))
    model.load_state_dict(checkpoint["state_dict"])
    model.on_load_checkpoint(checkpoint)
    return model.eval(), checkpoint


def export_graphs(model: PairModule, out: Path, opset: int = OPSET, temperature: float = 1.0) -> None:
    """encoder.onnx and head.onnx with dynamic batch (and sequence) dims, by the legacy TorchScript exporter.

    The dynamo exporter can silently fix the sequence length of a second LSTM export in one process.
    """
    warnings.filterwarnings(
        "ignore", message="Exporting a model to ONNX with a batch_size other than 1"
    )  # no h0 input: zeros per batch
    warnings.filterwarnings(
        "ignore", message="You are using the legacy TorchScript-based ONNX export"
    )  # on purpose, see above
    ids, lengths = torch.tensor([[5, 6, 7, 0], [8, 9, 10, 11]]), torch.tensor([3, 4])
    encoder = EncoderGraph(model.encoder).eval()
    torch.onnx.export(
        encoder,
        (ids, lengths),
        str(out / artifact.ENCODER_FILE),
        input_names=list(artifact.ENCODER_INPUTS),
        output_names=encoder.outputs,
        dynamic_axes={
            "input_ids": {0: "batch", 1: "seq"},
            "lengths": {0: "batch"},
            **{name: {0: "batch"} for name in encoder.outputs},
        },
        opset_version=opset,
        dynamo=False,
    )
    u = torch.randn(2, model.encoder.dim)
    output = tasks.get(model.hparams.task).output
    inputs, names = (u, u), list(artifact.HEAD_INPUTS)
    if model.head.n_features:
        inputs, names = (u, u, torch.rand(2, model.head.n_features)), names + [artifact.HEAD_FEATURES]
    torch.onnx.export(
        ServingHead(model.head, temperature).eval(),
        inputs,
        str(out / artifact.HEAD_FILE),
        input_names=names,
        output_names=[output],
        dynamic_axes={**{name: {0: "batch"} for name in names}, output: {0: "batch"}},
        opset_version=opset,
        dynamo=False,
    )


def store_table_fp16(path: Path) -> int:
    """Store the encoder's token table as float16, cast back to float32 after the lookup; returns bytes saved.

    The table is most of the file (and of the server's memory); the cast is per token, so a vector never
    depends on its batch, unlike dynamic int8. Export rounds the torch table first, so parity stays exact.
    """
    model = onnx.load(str(path))
    graph = model.graph
    tables = {
        init.name: init
        for init in graph.initializer
        if len(init.dims) == 2 and init.data_type == onnx.TensorProto.FLOAT
    }
    lookups = [
        node
        for node in graph.node
        if node.op_type == "Gather" and node.input[0] in tables and node.input[1] == artifact.ENCODER_INPUTS[0]
    ]
    if len(lookups) != 1:
        raise ExportError(
            f"{path}: expected one token-table lookup on {artifact.ENCODER_INPUTS[0]!r}, found {len(lookups)}"
        )
    lookup = lookups[0]
    table = tables[lookup.input[0]]
    half = numpy_helper.from_array(numpy_helper.to_array(table).astype(np.float16), table.name)
    saved = len(table.raw_data) - len(half.raw_data)
    table.CopyFrom(half)
    looked_up = lookup.output[0]
    lookup.output[0] = f"{looked_up}_float16"
    cast = onnx.helper.make_node(
        "Cast", [lookup.output[0]], [looked_up], to=onnx.TensorProto.FLOAT, name=f"{lookup.name}_to_float"
    )
    graph.node.insert(list(graph.node).index(lookup) + 1, cast)
    stale = [info for info in graph.value_info if info.name == looked_up]
    for info in stale:
        graph.value_info.remove(info)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return saved


def quantize(out: Path) -> None:
    """encoder.int8.onnx: the encoder with dynamically quantized (int8) weights."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(out / artifact.ENCODER_FILE), str(out / artifact.ENCODER_INT8_FILE), weight_type=QuantType.QInt8
    )


def check_symbolic(path: Path, feature_dim_fixed: bool = False) -> None:
    """Every input dim must be named, not fixed, so any batch size and length run.

    A head's feature dim is fixed by design.
    """
    for graph_input in onnx.load(str(path)).graph.input:
        dims = list(graph_input.type.tensor_type.shape.dim)
        checked = dims[:-1] if feature_dim_fixed else dims
        fixed = [i for i, dim in enumerate(checked) if not dim.dim_param]
        if fixed:
            raise ExportError(
                f"{path}: input {graph_input.name!r} has fixed dims {fixed} "
                f"({[d.dim_value for d in dims]}); expected symbolic"
            )


def parity(model: PairModule, served: PairModel, texts: list[str], temperature: float = 1.0) -> dict[str, float]:
    """Max abs difference torch vs the served graphs on one padded batch of real texts of mixed lengths
    (the head on the pairs (texts[i], texts[half + i]), with their pair features when it takes them)."""
    ids = served.token_ids(texts)
    batch, lengths = padded(ids)
    with torch.no_grad():
        vectors = model.encoder(batch, lengths)
        half = len(texts) // 2
        features = served.pair_features(texts[:half], texts[half : 2 * half])
        torch_features = None if features is None else torch.from_numpy(features)
        head = ServingHead(model.head, temperature)(vectors[:half], vectors[half : 2 * half], torch_features).numpy()
    onnx_vectors = served.encode_ids(ids)
    result = {
        "encoder": float(np.abs(onnx_vectors - vectors.numpy()).max()),
        "head": float(
            np.abs(served.head(vectors[:half].numpy(), vectors[half : 2 * half].numpy(), features) - head).max()
        ),
        "texts": len(texts),
        "max_length": int(lengths.max()),
        "min_length": int(lengths.min()),
    }
    if served.has_winners:
        result["winners"] = winners_gap(model.encoder, batch, lengths, served.winners(ids))
    return result


def winners_gap(encoder: torch.nn.Module, batch: torch.Tensor, lengths: torch.Tensor, winners: np.ndarray) -> float:
    """Max abs difference between torch's max pool and torch's state at the position onnxruntime says won each dim
    (a near-tie may pick another position; its state must still be the max). A padding winner is an error."""
    if (winners >= lengths.clamp(min=1).numpy()[:, None]).any() or (winners < 0).any():
        raise ExportError(
            f"the exported winners point outside the text: {winners.max(axis=1)} vs lengths {lengths.tolist()}"
        )
    with torch.no_grad():
        states, _, _ = encoder.states(batch, lengths)
        vectors = encoder(batch, lengths)
    picked = states.gather(1, torch.from_numpy(winners).unsqueeze(1)).squeeze(1)
    return float((picked - vectors).abs().max())


def fit_calibration(source: Checkpoint, data_dir: str | None) -> dict[str, Any] | None:
    """Temperature scaling on the calibration specs the run held out (data.calibration), minus pairs repeating a
    training pair; None for ranking or a run without calibration specs."""
    specs, task = source.specs("calibration"), source.task
    if not tasks.get(task).calibrated or not specs:
        return None
    try:
        pairs = calibration.fresh_pairs(source.pairs("calibration", data_dir), source.pairs("train", data_dir))
    except (DataError, FileNotFoundError) as exc:
        raise ExportError(f"calibration data: {exc}") from exc
    if not pairs:
        raise ExportError(f"calibration specs {specs}: no pair left once pairs repeating a training pair are dropped")
    tokenizer = Tokenizer.from_str(source.extra["tokenizer"])
    tokenizer.no_padding()
    tokenizer.enable_truncation(source.extra["max_tokens"])
    logits = calibration.pair_logits(
        source.model, lambda texts: [e.ids for e in tokenizer.encode_batch(texts)], pairs, source.features
    )
    return {"splits": specs, "pairs": len(pairs), **calibration.summarize(logits, [p.label for p in pairs], task)}


def split_oov(model: PairModel, pairs: list[Pair]) -> dict[str, float]:
    """card.oov.splits[spec]: the fallback-token rates of a split's texts, as the served tokenizer sees them."""
    return oov_rates(model.tokenizer, [t for p in pairs for t in (p.text_a, p.text_b)])


def parity_texts(pairs: list[Pair]) -> list[str]:
    """Distinct validation texts spread over the length range (shortest to longest)."""
    texts = sorted(dict.fromkeys(t for p in pairs for t in (p.text_a, p.text_b)), key=len)
    step = max(1, len(texts) // PARITY_TEXTS)
    chosen = texts[::step][: PARITY_TEXTS - 1] + texts[-1:]
    return chosen if len(chosen) % 2 == 0 else chosen[:-1]


@dataclass
class Checkpoint:
    """What export reads from a `pairscore train` checkpoint."""

    path: Path
    model: PairModule  # eval mode; its token table rounded as the folder will store it
    hp: dict[str, Any]  # the model's init arguments
    data_hp: dict[str, Any]  # the datamodule's
    extra: dict[str, Any]  # checkpoint["pairscore"]: tokenizer, features, data, teacher, recipe, training

    @property
    def task(self) -> str:
        return self.hp["task"]

    @property
    def features(self) -> PairFeatures | None:
        return PairFeatures.from_json(self.extra["features"]) if self.extra.get("features") else None

    def specs(self, role: str) -> list[str]:
        """The specs the run used in a role (train, val, calibration), as its datamodule recorded them."""
        return [entry["split"] for entry in self.extra["data"] if entry["role"] == role]

    def pairs(self, role: str, data_dir: str | None = None, spec: str | None = None) -> list[Pair]:
        """The labelled pairs of a role's specs (or of one spec), mapped as in training (data.columns)."""
        h, columns = self.data_hp, parse_columns(self.data_hp.get("columns"))
        where = data_dir or h["data_dir"]
        return [
            p
            for s in ([spec] if spec else self.specs(role))
            for p in load_pairs(s, self.task, where, h["hub"], columns)
        ]


def read_checkpoint(path: Path, table_dtype: str) -> Checkpoint:
    model, checkpoint = load_checkpoint(path)
    if table_dtype == "float16":  # the model served, and so measured, is the one with the rounded table
        model.encoder.embedding.weight.data = model.encoder.embedding.weight.data.half().float()
    hp, data_hp = (hyperparameters(checkpoint, key) for key in ("hyper_parameters", "datamodule_hyper_parameters"))
    return Checkpoint(path, model, hp, data_hp, checkpoint["pairscore"])


def check_destination(out: Path, checkpoint: Path, force: bool) -> None:
    """Refuse to write over a folder that holds something else (another model, or other files) unless forced:
    a copied example command must never replace a shipped model."""
    if force or not out.exists():
        return
    if not out.is_dir():
        raise ExportError(f"{out}: exists and is not a folder")
    card_path = out / artifact.CARD_FILE
    if card_path.is_file():
        try:
            written_from = json.loads(card_path.read_text()).get("checkpoint")
        except (json.JSONDecodeError, UnicodeDecodeError):
            written_from = None
        if written_from is None or Path(written_from).resolve() != checkpoint.resolve():
            raise ExportError(
                f"{out}: holds another model (its card was exported from {written_from}); "
                "pick a new folder, or pass --force to replace it"
            )
    elif any(out.iterdir()):
        raise ExportError(f"{out}: not empty and not a model folder; pick a new folder, or pass --force")


def write_folder(source: Checkpoint, out: Path, temperature: float, int8: bool, table_dtype: str) -> dict[str, str]:
    """The tokenizer, the pair features and the graphs (checked symbolic); returns the card's `graphs`."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in (artifact.CARD_FILE, artifact.ENCODER_INT8_FILE, artifact.FEATURES_FILE):
        (out / stale).unlink(missing_ok=True)
    # the distillation's projection ("projection.*") rides along, so a distillation can continue from the folder
    save_weights(out / artifact.WEIGHTS_FILE, {**source.model.state_dict(), **(source.extra.get("projection") or {})})
    Tokenizer.from_str(source.extra["tokenizer"]).save(str(out / artifact.TOKENIZER_FILE))
    if source.features:
        source.features.save(out / artifact.FEATURES_FILE)
    export_graphs(source.model, out, temperature=temperature)
    graphs = {
        "encoder": artifact.ENCODER_FILE,
        "encoder_fp32": artifact.ENCODER_FILE,
        "head": artifact.HEAD_FILE,
        "tokenizer": artifact.TOKENIZER_FILE,
    }
    if int8:
        quantize(out)
        graphs["encoder_int8"] = artifact.ENCODER_INT8_FILE
    if table_dtype == "float16":
        store_table_fp16(out / artifact.ENCODER_FILE)
    for name in {graphs["encoder"], graphs.get("encoder_int8")} - {None}:
        check_symbolic(out / name)
    check_symbolic(out / graphs["head"], feature_dim_fixed=True)
    return graphs


def describe(source: Checkpoint, graphs: dict[str, str], fitted: dict[str, Any] | None, table_dtype: str) -> dict:
    """The card before measurement: what the model is, what it was trained on and by which versions."""
    hp, model, features = source.hp, source.model, source.features
    architecture = {key: hp[key] for key in ("cell", "layers", "bidirectional", "hidden_size", "pooling")}
    architecture |= {key: hp[key] for key in ("embeddings", "embedding_dim", "vocab_size")}
    architecture |= {
        "table_dtype": table_dtype,
        "embedding_coverage": source.extra.get("embedding_coverage"),
        "head": hp.get("head", "mlp"),
        "head_hidden": hp["head_hidden"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "encoder_parameters": sum(p.numel() for p in model.encoder.parameters()),
    }
    calibrated = None
    if fitted:
        fit_on = {k: v for k, v in fitted.items() if k != "temperature"}
        calibrated = {"temperature": fitted["temperature"], "fit_on": fit_on, "splits": {}}
    return {
        "task": source.task,
        "labels": list(tasks.get(source.task).labels),
        "threshold": 0.5 if source.task == "paraphrase" else None,
        "dim": model.encoder.dim,
        "max_tokens": source.extra["max_tokens"],
        "graphs": graphs,
        "architecture": architecture,
        "explain": artifact.ENCODER_WINNERS if hp["pooling"] == "max" else None,
        "features": {"file": artifact.FEATURES_FILE, "names": features.names} if features else None,
        "calibration": calibrated,
        "quantization": "none",  # fp32 served: a text's vector never depends on its batch (dynamic int8's would)
        "teacher": source.extra.get("teacher"),  # the distillation teacher and run (training.distill), or None
        "weights": {"file": artifact.WEIGHTS_FILE, "dtype": "float32", "token_table": artifact.ENCODER_FILE},
        "init_from": source.extra.get("started_from"),  # the model folder this one continued from, or None
        "data": source.extra["data"],
        "config": source.extra.get("recipe") or {"model": hp, "data": source.data_hp},
        "metrics": {},
        "versions": machine.package_versions(VERSIONED),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "checkpoint": str(source.path),
        "training": source.extra.get("training"),
    }


def measure(card: dict, served: PairModel, selection: dict[str, list[Pair]], tune_threshold: bool) -> None:
    """The card's threshold (paraphrase, when tuned), metrics, calibration errors and fallback-token rates."""
    if card["task"] == "paraphrase" and tune_threshold:
        pairs = [p for split in selection.values() for p in split]
        probability = served.score_pairs([p.text_a for p in pairs], [p.text_b for p in pairs])
        card["threshold"] = metrics.best_threshold([p.label for p in pairs], probability)
    card["metrics"] = {spec: evaluate(served, pairs, card["threshold"]) for spec, pairs in selection.items()}
    if card["calibration"]:
        card["calibration"]["splits"] = {spec: calibration_errors(served, pairs) for spec, pairs in selection.items()}
    card["oov"] = {
        "token": fallback_token(served.tokenizer),
        "splits": {spec: split_oov(served, pairs) for spec, pairs in selection.items()},
    }


def measure_int8(card: dict, out: Path, served: PairModel, selection: dict[str, list[Pair]], texts: list[str]) -> None:
    """For comparison only (never served: dynamic int8 depends on the batch): its gap to fp32 and its metrics."""
    int8_model = PairModel(out, encoder_file=artifact.ENCODER_INT8_FILE)
    ids = served.token_ids(texts)
    card["parity"]["int8_vs_fp32"] = float(np.abs(int8_model.encode_ids(ids) - served.encode_ids(ids)).max())
    card["metrics_int8"] = {spec: evaluate(int8_model, pairs, card["threshold"]) for spec, pairs in selection.items()}


def export(
    checkpoint_path: Path,
    out: Path,
    int8: bool = False,
    tune_threshold: bool = False,
    data_dir: str | None = None,
    table_dtype: str = "float16",
    force: bool = False,
) -> dict[str, Any]:
    """Write and check the model folder; returns the card."""
    check_destination(out, checkpoint_path, force)
    source = read_checkpoint(checkpoint_path, table_dtype)
    try:
        selection = {spec: source.pairs("val", data_dir, spec) for spec in source.specs("val")}
    except (DataError, FileNotFoundError) as exc:
        raise ExportError(f"validation data for the card's metrics and the parity check: {exc}") from exc
    fitted = fit_calibration(source, data_dir)
    temperature = fitted["temperature"] if fitted else 1.0
    card = describe(source, write_folder(source, out, temperature, int8, table_dtype), fitted, table_dtype)
    artifact.write_card(out, card)
    served = PairModel(out, encoder_file=artifact.ENCODER_FILE)
    texts = parity_texts([p for pairs in selection.values() for p in pairs])
    card["parity"] = parity(source.model, served, texts, temperature)
    if max(card["parity"]["encoder"], card["parity"]["head"], card["parity"].get("winners", 0.0)) > PARITY_TOLERANCE:
        (out / artifact.CARD_FILE).unlink()  # not servable
        raise ExportError(f"{out}: onnxruntime differs from torch by {card['parity']} (tolerance {PARITY_TOLERANCE})")
    measure(card, served, selection, tune_threshold)
    if int8:
        measure_int8(card, out, served, selection, texts)
    artifact.write_card(out, card)
    artifact.read_card(out)
    return card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pairscore export", description=__doc__.splitlines()[0])
    parser.add_argument(
        "checkpoint", help="a .ckpt written by `pairscore train`, or its run's best.json or run folder (version_N)"
    )
    parser.add_argument("--out", type=Path, required=True, help="model folder to write, e.g. models/entailment")
    parser.add_argument("--int8", action="store_true", help="also write encoder.int8.onnx (dynamic quantization)")
    parser.add_argument("--force", action="store_true", help="replace a folder that holds another model")
    parser.add_argument(
        "--tune-threshold",
        action="store_true",
        help="paraphrase: pick the F1-best threshold on the validation split instead of 0.5",
    )
    parser.add_argument(
        "--table-dtype",
        choices=("float16", "float32"),
        default="float16",
        help="storage of the encoder's token table (float16 halves the file; the lookup is cast back to float32)",
    )
    parser.add_argument("--data_dir", help="data folder for the validation split (default: the training one)")
    args = parser.parse_args(argv)
    try:
        args.checkpoint = checkpoint_of(args.checkpoint)
        card = export(
            args.checkpoint, args.out, args.int8, args.tune_threshold, args.data_dir, args.table_dtype, args.force
        )
    except (ExportError, artifact.ArtifactError, FileNotFoundError) as exc:
        print(f"pairscore export: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: parity {card['parity']}, metrics {card['metrics']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
