"""Exact-match pair features (pairscore.features): robust to text form, and the same at training and serving time."""

import json
from pathlib import Path

import numpy as np
import pytest

from helpers import FIXTURE_DATA, TASKS, shared_data_or_skip
from pairscore.features import NAMES, PairFeatures, resolve, words


def fixture_pairs(source: str, split: str, a: str, b: str) -> list[tuple[str, str]]:
    rows = [json.loads(line) for line in (FIXTURE_DATA / source / f"{split}.jsonl").read_text().splitlines()]
    return [(row[a], row[b]) for row in rows]


def test_raw_and_pretokenized_lowercased_text_give_the_same_words():
    assert words("Dominick's sold it for $2,500.5 in 1998.") == words("dominick 's sold it for $ 2500.5 in 1998 .")
    assert words("Dominick's 2,500") == ["dominick", "s", "2500"]


def letters(i: int) -> str:
    out = "q"
    while True:
        out, i = out + chr(97 + i % 26), i // 26
        if not i:
            return out


def test_features_reward_exact_matches_of_rare_words_and_numbers():
    common = ["the cat sat on the mat", "the dog ran", "a cat and a dog"]
    corpus = [f"{common[i % 3]} {letters(i)}" for i in range(2000)] + ["the zebra was born in 1998", "zebra crossing"]
    features = PairFeatures.fit(corpus)
    assert features.idf("zebra") >= features.rare_idf > features.idf("cat")
    same, other = features.pairs(["was the zebra born ?"] * 2, ["the zebra was born in 1998", "the dog ran"])
    assert list(features.names) == list(NAMES)
    for name in ("idf_recall_a", "idf_recall_b", "bm25", "rare_recall_a", "bigram_jaccard"):
        assert same[NAMES.index(name)] > other[NAMES.index(name)], name
    assert same[NAMES.index("rare_recall_a")] == 1.0 and other[NAMES.index("rare_recall_a")] == 0.0
    numbers = features.pairs(["born in 1998", "born in 1998", "born"], ["in 1998 .", "in 1999 .", "yes"])
    assert numbers[:, NAMES.index("number_jaccard")].tolist() == [1.0, 0.0, 0.0]
    assert numbers[:, NAMES.index("numbers")].tolist() == [1.0, 1.0, 0.0]
    values = features.pairs(corpus, corpus[::-1])
    assert np.all((values >= 0) & (values <= 1))


def test_the_statistics_file_round_trips_and_keeps_only_repeated_words(tmp_path):
    texts = [a for pair in fixture_pairs("wiki_qa", "train", "question", "answer") for a in pair]
    features = PairFeatures.fit(texts, ["bm25", "idf_recall_a"])
    assert min(features.df.values()) >= 2
    features.save(tmp_path / "features.json")
    again = PairFeatures.load(tmp_path / "features.json")
    assert again.names == ["bm25", "idf_recall_a"]
    a, b = zip(*fixture_pairs("wiki_qa", "validation", "question", "answer"))
    assert np.array_equal(again.pairs(a, b), features.pairs(a, b))
    assert features.pairs([], []).shape == (0, 2)


def test_feature_names_are_checked():
    assert resolve(True) == list(NAMES) and resolve(False) == [] and resolve(None) == []
    with pytest.raises(ValueError, match="capitals"):
        resolve(["bm25", "capitals"])


def test_serving_computes_the_features_the_training_batches_hold(tiny_v2_models, tmp_path):
    """The datamodule's per-pair features on real fixture rows == PairModel's, from the exported features.json."""
    pytest.importorskip("torch", reason="training extra")
    from pairscore.runtime.model import PairModel
    from pairscore.specs import load_pairs
    from training.data import PairDataModule

    module = PairDataModule(
        "ranking", ["wiki_qa/train"], ["trec_qa/validation"], data_dir=str(FIXTURE_DATA), features=True, min_val=10
    )
    module.setup("fit")
    exported = tmp_path / "features.json"
    module.pair_features.save(exported)
    served = PairFeatures.load(exported)
    pairs = fixture_pairs("trec_qa", "validation", "question", "answer")
    assert np.array_equal(module.val_set.features, served.pairs(*zip(*pairs)))
    # The exported model against the datamodule of the run that trained it (its card's data config).
    model = PairModel(tiny_v2_models / "ranking")
    assert model.features is not None and model.features.names == list(NAMES)
    trained = model.card.config["data"]
    module = PairDataModule("ranking", trained["train"], trained["val"], data_dir=str(FIXTURE_DATA), features=True)
    module.setup("fit")
    validation = [p for spec in trained["val"] for p in load_pairs(spec, "ranking", FIXTURE_DATA)]
    served = model.pair_features([p.text_a for p in validation], [p.text_b for p in validation])
    assert served.shape == module.val_set.features.shape and np.array_equal(served, module.val_set.features)


@pytest.mark.parametrize("task", TASKS)
def test_shipped_features_are_the_training_statistics(task):
    """A shipped model's features.json is exactly what its recipe's training texts give (so serving computes the
    features the head was trained on), and the head's `features` input has the card's columns."""
    from pairscore import artifact
    from pairscore.runtime.model import PairModel

    root = Path(__file__).resolve().parents[1] / "models" / task
    model = PairModel(root)
    if not model.card.features:
        pytest.skip(
            f"models/{task} takes no pair features "
            "(card.features is null: format v1, or a recipe with data.features off)"
        )
    pytest.importorskip("datasets", reason="loads the training splits: needs the 'train' extra")
    from pairscore.specs import clean_questions, load_pairs

    data = model.card.config["data"]
    specs = data["train"]
    data_dir = shared_data_or_skip(*specs)
    split_pairs = [load_pairs(spec, task, data_dir) for spec in specs]
    if task == "ranking":  # training keeps only questions with a correct and a wrong answer
        split_pairs = [clean_questions(pairs)[0] for pairs in split_pairs]
    pairs = [p for ps in split_pairs for p in ps]
    texts = list(dict.fromkeys(t for p in pairs for t in (p.text_a, p.text_b)))
    refit = PairFeatures.fit(texts, data["features"])
    assert json.loads(refit.to_json()) == json.loads((root / artifact.FEATURES_FILE).read_text())
    width = {i.name: i.shape for i in model._head.get_inputs()}[artifact.HEAD_FEATURES][-1]
    assert width == len(model.card.features.names) == len(model.features.names)


def test_analysed_texts_hold_nothing_the_garbage_collector_walks():
    """The serving LRU keeps thousands of them; a full collection walks every tracked object's references."""
    import gc

    features = PairFeatures.fit(["the dog saw 2 cats", "a cat"])
    analysed = features.analyse("The dog's 2,500 cats saw a dog near the old mill in 1999.")
    assert analysed.rare and analysed.numbers and analysed.bigrams
    assert not [field for field, value in analysed._asdict().items() if gc.is_tracked(value)]
