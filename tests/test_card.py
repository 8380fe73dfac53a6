"""card.json through the typed card (pairscore.card): every shipped card, and older cards of each format version,
read and write back byte for byte; keys the model does not know are kept; a bad card is refused naming the key."""

from __future__ import annotations

import json
import shutil

import pytest

from helpers import MODELS, ROOT, TASKS
from pairscore import artifact, card

# Cards of earlier releases, as they shipped (git show fa272b0 / 60d570e: models/<task>/card.json).
OLD_CARDS = sorted((ROOT / "tests" / "fixtures" / "cards").glob("*.json"))


@pytest.mark.parametrize("task", TASKS)
def test_a_shipped_card_reads_and_writes_back_byte_for_byte(task):
    path = MODELS / task / artifact.CARD_FILE
    read = card.read(MODELS / task)  # every file's sha256 checked
    assert read.to_json().encode() == path.read_bytes()
    assert read.format_version == artifact.FORMAT_VERSION and read.max_tokens > 0 and read.weights is not None


@pytest.mark.parametrize("path", OLD_CARDS, ids=lambda p: p.stem)
def test_an_older_card_loads_keeps_what_it_does_not_know_and_writes_back(path):
    text = path.read_text()
    old = card.from_json(text, path)
    raw = json.loads(text)
    assert old.format_version == raw["format_version"] < artifact.FORMAT_VERSION
    assert old.model_extra == {key: raw[key] for key in raw if key not in card.Card.model_fields}
    assert old.model_extra, "these cards have a key the typed card does not declare"
    assert old.graphs.encoder == raw["graphs"]["encoder"] and old.max_tokens == raw["max_tokens"]
    assert old.to_json() == text


def test_a_card_without_the_optional_parts_gets_their_defaults_and_writes_none_of_them():
    raw = json.loads(OLD_CARDS[0].read_text())
    for key in ("max_tokens", "quantization", "features", "calibration"):
        raw.pop(key, None)
    text = json.dumps(raw, indent=2) + "\n"
    trimmed = card.from_json(text)
    assert trimmed.max_tokens == card.DEFAULT_MAX_TOKENS and trimmed.quantization is None
    assert trimmed.temperature == 1.0 and trimmed.to_json() == text


@pytest.mark.parametrize(
    "change, named",
    [
        (lambda raw: raw.pop("task"), "missing key 'task'"),
        (lambda raw: raw["graphs"].pop("head"), "missing key 'graphs.head'"),
        (lambda raw: raw.update(task="summarization"), "task: .*summarization"),
        (lambda raw: raw.update(dim="wide"), "dim: .*wide"),
        (lambda raw: raw.update(format_version=99), "format_version 99"),
        (lambda raw: raw.pop("files"), "missing key 'files'"),
    ],
    ids=["no task", "no head graph", "unknown task", "dim not a number", "unknown version", "no files"],
)
def test_a_bad_card_is_refused_naming_the_key(tmp_path, change, named):
    folder = tmp_path / "model"
    shutil.copytree(MODELS / "ranking", folder)
    raw = json.loads((folder / artifact.CARD_FILE).read_text())
    change(raw)
    (folder / artifact.CARD_FILE).write_text(json.dumps(raw))
    with pytest.raises(artifact.ArtifactError, match=named) as refused:
        card.read(folder)
    assert str(folder / artifact.CARD_FILE) in str(refused.value)


def test_write_lists_every_file_and_refuses_a_graph_it_does_not_have(tmp_path):
    folder = tmp_path / "model"
    shutil.copytree(MODELS / "paraphrase", folder)
    shipped = card.read(folder)
    (folder / artifact.CARD_FILE).unlink()
    written = card.write(folder, shipped.model_copy())
    assert written.read_bytes() == (MODELS / "paraphrase" / artifact.CARD_FILE).read_bytes()
    (folder / shipped.graphs.head).unlink()
    with pytest.raises(artifact.ArtifactError, match="graphs.head"):
        card.write(folder, shipped.model_copy())


def test_the_format_doc_lists_every_key_of_the_card():
    table = (ROOT / "docs" / "artifact-format.md").read_text().split("## card.json", 1)[1]
    documented = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}
    assert documented == set(card.Card.model_fields)
