"""Issue 27's suites count what they claim: the roofline's FLOPs per token and padding ratios, and the breakdown's
py-spy categories (benchmarks/roofline.py, benchmarks/breakdown.py)."""

from __future__ import annotations

import pytest

from benchmarks import pyspy_breakdown, roofline
from helpers import MODELS
from pairscore.card import read


def test_flops_per_token_of_the_shipped_encoder() -> None:
    arch = read(MODELS / "entailment").architecture
    hidden, table = arch["hidden_size"], arch["embedding_dim"]
    # two directions, each: the 4 gates' input and recurrent matrix products, 2 FLOPs per multiply-add
    assert roofline.flops_per_token(arch) == 2 * 2 * 4 * hidden * (table + hidden)


def test_a_second_layer_reads_both_directions() -> None:
    one, two = roofline.size_arch("256x1x128"), roofline.size_arch("256x2x128")
    assert roofline.flops_per_token(two) - roofline.flops_per_token(one) == 2 * 2 * 4 * 256 * (512 + 256)


def test_buckets_never_pad_more_than_fixed_chunks() -> None:
    requests = [[3, 40, 8, 9, 12, 60, 5], [20] * 70 + [2] * 30, [1]]
    ratios = roofline.padding(requests)
    assert 1.0 <= ratios["buckets"] <= ratios["fixed_64"]


STACK = "process 1:python;<module> (_bentoml_impl/worker/service.py:246);Runner.run (asyncio/runners.py:118)"


@pytest.mark.parametrize(
    "frames, category",
    [
        ("", pyspy_breakdown.IDLE),  # the event loop's own code: mostly its epoll wait
        (
            ";CorkDispatcher.controller (bentoml/_internal/marshal/dispatcher.py:312);sleep (asyncio/tasks.py:645)",
            "BentoML dispatch",
        ),
        (
            ";IORootModel.model_validate_json (_bentoml_sdk/io_models.py:300);validate (pydantic/main.py:10)",
            "JSON and validation",
        ),
        (
            ";PairModel.score_pairs (pairscore/runtime/model.py:200);PairModel.head (pairscore/runtime/model.py:180)"
            ";Session.run (onnxruntime/capi/onnxruntime_inference_collection.py:406)",
            "head graph",
        ),
        (
            ";PairModel.encode_ids (pairscore/runtime/model.py:140)"
            ";Session.run (onnxruntime/capi/onnxruntime_inference_collection.py:406)",
            "encoder graph",
        ),
        (";HttpToolsProtocol.data_received (uvicorn/protocols/http/httptools_impl.py:173)", "HTTP"),
        (";Thread.run (threading.py:982);Condition.wait (threading.py:327)", pyspy_breakdown.IDLE),
    ],
)
def test_a_sample_goes_to_its_innermost_category(frames: str, category: str) -> None:
    assert pyspy_breakdown.classify(STACK + frames) == category
