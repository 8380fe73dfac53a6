"""Sources by name, split specs, the data-dir rules, and length-bucketed batching."""

import json

import pytest

pytest.importorskip("torch")

from helpers import FIXTURE_DATA  # noqa: E402
from pairscore import specs  # noqa: E402
from training import data  # noqa: E402
from training.batching import BucketBatchSampler  # noqa: E402


def test_split_specs_follow_the_held_out_rules():
    assert len(specs.load_pairs("snli/validation", "entailment", FIXTURE_DATA)) == 60
    head = specs.load_pairs("snli/validation[:-20]", "entailment", FIXTURE_DATA)
    tail = specs.load_pairs("snli/validation[-20:]", "entailment", FIXTURE_DATA)
    assert (len(head), len(tail)) == (40, 20)
    assert not {(p.text_a, p.text_b) for p in head} & {(p.text_a, p.text_b) for p in tail}


@pytest.mark.parametrize(
    "spec,task",
    [
        ("snli_cad/train", "entailment"),
        ("sick/validation", "entailment"),
        ("twitter_url/train", "paraphrase"),
        ("mrpc/train", "paraphrase"),
        ("wiki_qa/train", "ranking"),
        ("trec_qa/validation", "ranking"),
        ("selqa/train", "ranking"),
    ],
)
def test_every_source_maps_to_canonical_pairs(spec, task):
    pairs = specs.load_pairs(spec, task, FIXTURE_DATA)
    assert pairs and all(
        isinstance(p.text_a, str) and isinstance(p.text_b, str) and p.label in (0, 1, 2) for p in pairs
    )
    if task == "ranking":
        assert all(p.group for p in pairs)


def test_snli_rows_without_a_gold_label_are_dropped(tmp_path):
    (tmp_path / "snli").mkdir()
    rows = [{"premise": "a", "hypothesis": "b", "label": label} for label in (0, -1, 2)]
    (tmp_path / "snli" / "validation.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [p.label for p in specs.load_pairs("snli/validation", "entailment", tmp_path)] == [0, 2]


def test_data_dir_flag_then_env_then_default(monkeypatch, tmp_path):
    monkeypatch.delenv(specs.DATA_DIR_ENV, raising=False)
    assert specs.resolve_data_dir() == specs.DEFAULT_DATA_DIR
    monkeypatch.setenv(specs.DATA_DIR_ENV, str(tmp_path))
    assert specs.resolve_data_dir() == tmp_path
    assert specs.resolve_data_dir("/elsewhere") == specs.DEFAULT_DATA_DIR.__class__("/elsewhere")


def test_a_missing_data_file_is_named(tmp_path):
    with pytest.raises(specs.DataError, match=str(tmp_path / "snli" / "validation.jsonl")):
        specs.load_pairs("snli/validation", "entailment", tmp_path)


@pytest.mark.parametrize(
    "spec,message", [("nope/train", "unknown source"), ("snli", "SOURCE/SPLIT"), ("snli/validation[x]", "SOURCE/SPLIT")]
)
def test_bad_split_specs_are_named(spec, message):
    with pytest.raises(specs.DataError, match=message):
        specs.parse_spec(spec)


def test_a_source_of_another_task_is_refused():
    with pytest.raises(specs.DataError, match="twitter_url is a paraphrase source"):
        specs.load_pairs("twitter_url/train", "entailment", FIXTURE_DATA)


def test_batches_keep_questions_whole_and_padding_small():
    pairs = specs.load_pairs("wiki_qa/train", "ranking", FIXTURE_DATA)
    texts = list(dict.fromkeys(t for p in pairs for t in (p.text_a, p.text_b)))
    ids = {t: list(range(len(t.split()))) for t in texts}
    dataset = data.EncodedPairs(pairs, ids)
    sampler = BucketBatchSampler(dataset.units, dataset.lengths, batch_size=16, chunk_batches=2, seed=0)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(len(pairs)))
    for batch in batches:
        groups = {dataset.groups[i] for i in batch}
        assert all(set(dataset.units[g]) <= set(batch) for g in groups)
    assert len(sampler) == len(list(sampler))


def test_pair_batches_are_sorted_by_length_within_chunks():
    pairs = specs.load_pairs("snli/validation", "entailment", FIXTURE_DATA)
    ids = {t: [2] * len(t.split()) for p in pairs for t in (p.text_a, p.text_b)}
    dataset = data.EncodedPairs(pairs, ids)
    batches = list(BucketBatchSampler(dataset.units, dataset.lengths, batch_size=8, chunk_batches=100, shuffle=False))
    longest = [max(max(len(dataset.a[i]), len(dataset.b[i])) for i in b) for b in batches]
    assert longest == sorted(longest) and sum(map(len, batches)) == len(pairs)
    batch = data.collate([dataset[i] for i in batches[0]])
    assert batch["a_ids"].shape == (8, int(batch["a_len"].max()))


def test_questions_of_two_sources_stay_apart_though_their_ids_repeat(tmp_path):
    for source in ("wiki_qa", "trec_qa"):  # both number their questions train-1, train-2, ...
        (tmp_path / source).mkdir()
        rows = [
            {
                "question_id": f"train-{q}",
                "question": f"{source} question {q}",
                "answer": f"answer {a}",
                "label": int(a == 0),
            }
            for q in (1, 2)
            for a in range(3)
        ]
        (tmp_path / source / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    module = data.PairDataModule(
        "ranking", ["wiki_qa/train", "trec_qa/train"], ["wiki_qa/train"], data_dir=str(tmp_path), min_val=6
    )
    module.setup()
    assert sorted(map(len, module.train_set.units)) == [3, 3, 3, 3]


@pytest.mark.parametrize("spec", ["stsb/train", "sts2012_2016/train"])
def test_graded_sources_load_as_scored_rows(spec):
    from training.evaluators import STSEvaluator

    sts = STSEvaluator(spec, FIXTURE_DATA)
    assert len(sts.texts_a) == len(sts.scores) > 0 and ((sts.scores >= 0) & (sts.scores <= 1)).all()
    assert specs.SOURCES[spec.split("/")[0]].licence
