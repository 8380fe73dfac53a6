"""The static Model2Vec baseline (training/studies/baselines/static.py), distilled from the tiny stand-in teacher:
the sentence-transformers folder it writes is a teacher that training.teacher loads, and it encodes as model2vec's
own model does."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("model2vec")
pytest.importorskip("skeletoken")
pytest.importorskip("sentence_transformers")

from helpers import tiny_teacher  # noqa: E402
from training.studies.baselines import static  # noqa: E402
from training.teacher import get_teacher, load_model  # noqa: E402

TEXTS = ["A man is playing a guitar.", "Someone plays music.", "unbelievably tokenised words", "x"]


def test_the_static_folder_is_a_teacher_that_encodes_as_model2vec_does(tmp_path, capsys):
    from model2vec.distill import distill

    source = tiny_teacher(tmp_path / "teacher")
    out = tmp_path / "model2vec-tiny"
    argv = ["--teacher", str(source), "--out", str(out), "--pca-dims", "4"]
    assert static.main(argv) == 0
    printed = capsys.readouterr().out
    built = json.loads(printed.splitlines()[0])
    vocabulary = json.loads((out / "tokenizer.json").read_text())["model"]["vocab"]
    assert (built["dim"], built["vocabulary"]) == (4, len(vocabulary))
    assert f"--teacher {out}" in printed

    teacher = get_teacher(str(out))
    assert teacher.key == "model2vec-tiny" and teacher.describe()["dim"] == 4
    vectors = load_model(teacher.folder(), threads=1).encode(TEXTS, convert_to_numpy=True)
    reference = distill(model_name=str(source), pca_dims=4, device="cpu", quantize_to="float32").encode(TEXTS)
    np.testing.assert_allclose(vectors, reference, atol=1e-5)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
