"""ONNX graph surgery: the encoder and head graphs with the artifact's names and symbolic dims, the token table
stored as float16, and the (comparison-only) int8 encoder."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from pairscore import artifact, tasks
from pairscore.card import Graphs
from training.export.errors import ExportError
from training.heads import ServingHead
from training.model import PairModule

OPSET = 17


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


def write_graphs(model: PairModule, out: Path, temperature: float, int8: bool, table_dtype: str) -> Graphs:
    """The served graphs (the int8 encoder too when asked), their inputs checked symbolic; the card's `graphs`."""
    export_graphs(model, out, temperature=temperature)
    graphs = Graphs(
        encoder=artifact.ENCODER_FILE,
        encoder_fp32=artifact.ENCODER_FILE,
        head=artifact.HEAD_FILE,
        tokenizer=artifact.TOKENIZER_FILE,
    )
    if int8:
        quantize(out)
        graphs.encoder_int8 = artifact.ENCODER_INT8_FILE
    if table_dtype == "float16":
        store_table_fp16(out / artifact.ENCODER_FILE)
    for name in {graphs.encoder, graphs.encoder_int8} - {None}:
        check_symbolic(out / name)
    check_symbolic(out / graphs.head, feature_dim_fixed=True)
    return graphs
