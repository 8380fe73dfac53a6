"""ONNX export: parity with torch on batches and lengths unlike the dummy input, and symbolic dims."""

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from training.export import ExportError, graphs  # noqa: E402
from training.model import PairModule  # noqa: E402


@pytest.mark.parametrize(
    "cell,bidirectional,pooling",
    [("lstm", True, "max"), ("gru", True, "last"), ("rnn", False, "mean"), ("lstm", False, "last")],
)
def test_exported_graphs_match_torch_on_any_batch_and_length(tmp_path, cell, bidirectional, pooling):
    torch.manual_seed(0)
    model = PairModule(
        "entailment",
        vocab_size=30,
        embedding_dim=8,
        cell=cell,
        hidden_size=10,
        layers=2,
        bidirectional=bidirectional,
        pooling=pooling,
        head_hidden=6,
    ).eval()
    graphs.export_graphs(model, tmp_path)
    graphs.check_symbolic(tmp_path / "encoder.onnx")
    graphs.check_symbolic(tmp_path / "head.onnx", feature_dim_fixed=True)
    encoder = ort.InferenceSession(str(tmp_path / "encoder.onnx"))
    head = ort.InferenceSession(str(tmp_path / "head.onnx"))
    for batch, width in itertools.product([1, 3, 7], [1, 6, 23]):  # the dummy input is 2 x 4
        lengths = torch.randint(0, width + 1, (batch,))
        ids = torch.randint(2, 30, (batch, width)) * (torch.arange(width) < lengths[:, None])
        with torch.no_grad():
            vectors = model.encoder(ids, lengths)
            probabilities = torch.softmax(model.head(vectors, vectors.flip(0)), -1)
        got = encoder.run(None, {"input_ids": ids.numpy(), "lengths": lengths.numpy()})[0]
        assert np.abs(got - vectors.numpy()).max() <= 1e-5
        got_head = head.run(None, {"u": vectors.numpy(), "v": vectors.flip(0).numpy()})[0]
        assert np.abs(got_head - probabilities.numpy()).max() <= 1e-5


def test_fixed_dims_are_refused(tmp_path):
    model = PairModule("paraphrase", vocab_size=20, embedding_dim=4, hidden_size=4, head_hidden=4).eval()
    torch.onnx.export(
        graphs.EncoderGraph(model.encoder).eval(),
        (torch.ones(2, 3, dtype=torch.long), torch.tensor([3, 2])),
        str(tmp_path / "fixed.onnx"),
        input_names=["input_ids", "lengths"],
        dynamo=False,
    )
    with pytest.raises(ExportError, match="fixed dims"):
        graphs.check_symbolic(tmp_path / "fixed.onnx")


def test_float16_table_halves_it_and_keeps_parity_with_the_rounded_torch_table(tmp_path):
    torch.manual_seed(0)
    model = PairModule("entailment", vocab_size=500, embedding_dim=16, hidden_size=8, head_hidden=6).eval()
    graphs.export_graphs(model, tmp_path)
    full = (tmp_path / "encoder.onnx").stat().st_size
    saved = graphs.store_table_fp16(tmp_path / "encoder.onnx")
    assert saved == 500 * 16 * 2
    assert (tmp_path / "encoder.onnx").stat().st_size <= full - saved + 1024
    tables = [i for i in onnx.load(str(tmp_path / "encoder.onnx")).graph.initializer if list(i.dims) == [500, 16]]
    assert [t.data_type for t in tables] == [onnx.TensorProto.FLOAT16]
    model.encoder.embedding.weight.data = model.encoder.embedding.weight.data.half().float()
    encoder = ort.InferenceSession(str(tmp_path / "encoder.onnx"))
    ids, lengths = torch.randint(2, 500, (5, 9)), torch.tensor([9, 1, 4, 7, 2])
    ids = ids * (torch.arange(9) < lengths[:, None])
    with torch.no_grad():
        expected = model.encoder(ids, lengths).numpy()
    got = encoder.run(["embeddings"], {"input_ids": ids.numpy(), "lengths": lengths.numpy()})[0]
    assert got.dtype == np.float32
    assert np.abs(got - expected).max() <= 1e-6
    with pytest.raises(ExportError, match="one token-table lookup"):
        graphs.store_table_fp16(tmp_path / "encoder.onnx")


@pytest.mark.parametrize("task", ["paraphrase", "ranking"])
def test_the_cosine_head_exports_with_its_pair_features(tmp_path, task):
    torch.manual_seed(0)
    model = PairModule(task, vocab_size=30, embedding_dim=8, hidden_size=6, head="cosine", features=True).eval()
    graphs.export_graphs(model, tmp_path, temperature=1.5)
    head = ort.InferenceSession(str(tmp_path / "head.onnx"))
    u, v, features = torch.randn(7, 12), torch.randn(7, 12), torch.rand(7, model.head.n_features)
    with torch.no_grad():
        expected = model.head(u, v, features) / 1.5
        expected = expected.sigmoid() if task == "paraphrase" else expected
    got = head.run(None, {"u": u.numpy(), "v": v.numpy(), "features": features.numpy()})[0]
    assert np.abs(got - expected.numpy()).max() <= 1e-5
    with pytest.raises(ValueError, match="one logit"):
        PairModule("entailment", vocab_size=30, embedding_dim=8, hidden_size=6, head="cosine")
