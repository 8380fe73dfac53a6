"""card.json, typed: the one module that reads and writes a model folder's card (docs/artifact-format.md).

Export builds a `Card` and writes it once (`write`); the runtime, the service, training and the studies read it
(`read`) as attributes, never as dict keys. Every version a reader accepts loads: a key an older or newer card has
and this model does not know is kept as it is. A card is written with the keys it was given or read with, in the
order it was read, so any card reads and writes back byte for byte (tests/test_card.py); a new card's keys follow
the declared fields, the order export has always written. Nothing here imports torch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_serializer, model_validator

from pairscore.artifact import CARD_FILE, FORMAT_VERSION, READABLE_VERSIONS, ArtifactError, sha256_file
from pairscore.tasks import TaskName

DEFAULT_MAX_TOKENS = 128  # tokens kept per text, for a card written before max_tokens was
GRAPH_ROLES = ("encoder", "head", "tokenizer")  # graphs a card must name, each a file it lists


class Part(BaseModel):
    """An object of the card: its known keys typed, any other key kept as it came (older and newer formats), and
    written back in the order it was read (a new object: in the order of the declared fields)."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)
    _order: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _remember_order(cls, data: Any, handler: Any) -> Part:
        part = handler(data)
        if isinstance(data, dict):
            part._order = tuple(data)
        return part

    @model_serializer(mode="wrap")
    def _in_order(self, handler: Any) -> dict[str, Any]:
        dumped = handler(self)
        first = [key for key in self._order if key in dumped]
        return {**{key: dumped[key] for key in first}, **{k: v for k, v in dumped.items() if k not in first}}


class Graphs(Part):
    encoder: str  # the file served
    encoder_fp32: str | None = None
    head: str
    tokenizer: str
    encoder_int8: str | None = None


class Features(Part):
    """The head's `features` input: the statistics file and the column names, in order (v2)."""

    file: str
    names: list[str]


class Calibration(Part):
    temperature: float  # folded into head.onnx: the served probabilities are the calibrated ones
    fit_on: dict[str, Any] = Field(default_factory=dict)  # the held-out specs and pairs it was fit on
    splits: dict[str, dict[str, Any]] = Field(default_factory=dict)  # spec -> ece_before, ece_after


class Weights(Part):
    file: str
    dtype: str
    token_table: str  # the graph file the token table is read back from


class Oov(Part):
    token: str  # the tokenizer's fallback token
    splits: dict[str, dict[str, Any]] = Field(default_factory=dict)  # spec -> token_rate, text_rate


class Parity(Part):
    """Max abs differences onnxruntime vs torch that export measured on real texts."""

    encoder: float
    head: float
    texts: int
    max_length: int
    min_length: int
    winners: float | None = None
    int8_vs_fp32: float | None = None


class Card(Part):
    """card.json. Declaration order is the written key order."""

    task: TaskName
    labels: list[str]
    threshold: float | None = None  # probability tasks: at or above it the answer is yes
    dim: int
    max_tokens: int = DEFAULT_MAX_TOKENS
    graphs: Graphs
    architecture: dict[str, Any] = Field(default_factory=dict)
    explain: str | None = None
    features: Features | None = None
    calibration: Calibration | None = None
    quantization: str | None = None  # None: a v1 card, pairscore.runtime.loading infers it
    teacher: dict[str, Any] | None = None
    weights: Weights | None = None
    init_from: dict[str, Any] | None = None
    data: list[dict[str, Any]] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, dict[str, Any]] = Field(default_factory=dict)
    versions: dict[str, Any] = Field(default_factory=dict)
    created: str | None = None
    checkpoint: str | None = None
    training: dict[str, Any] | None = None
    parity: Parity | None = None
    oov: Oov | None = None
    metrics_int8: dict[str, dict[str, Any]] | None = None
    reported: dict[str, dict[str, Any]] | None = None
    embed_sts: dict[str, Any] | None = None
    reproduce: str | None = None
    format_version: int = FORMAT_VERSION
    files: dict[str, str] = Field(default_factory=dict)  # sha256 of every other file in the folder

    @property
    def temperature(self) -> float:
        """The calibration temperature folded into head.onnx (1.0: none)."""
        return self.calibration.temperature if self.calibration else 1.0

    def to_json(self) -> str:
        """The card as card.json holds it: the keys it was given, two-space indents, a final newline."""
        return json.dumps(self.model_dump(exclude_unset=True), indent=2) + "\n"


def parse(data: Any, where: Path | str = CARD_FILE) -> Card:
    """A card from card.json's parsed JSON; ArtifactError naming `where` and the key otherwise."""
    if not isinstance(data, dict):
        raise ArtifactError(f"{where}: expected a JSON object, got {type(data).__name__}")
    for key in ("format_version", "files"):
        if key not in data:
            raise ArtifactError(f"{where}: missing key {key!r}")
    if data["format_version"] not in READABLE_VERSIONS:
        raise ArtifactError(
            f"{where}: format_version {data['format_version']!r}, this pairscore reads {list(READABLE_VERSIONS)}"
        )
    try:
        return Card.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        if first["type"] == "missing":
            raise ArtifactError(f"{where}: missing key {key!r}") from None
        raise ArtifactError(f"{where}: {key}: {first['msg']} (got {first['input']!r:.80})") from None


def from_json(text: str, where: Path | str = CARD_FILE) -> Card:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{where}: not valid JSON ({exc})") from exc
    return parse(data, where)


def check_graphs(card: Card, where: Path | str = CARD_FILE) -> None:
    """Each graph role the server opens names a file the card lists."""
    for role in GRAPH_ROLES:
        if getattr(card.graphs, role) not in card.files:
            raise ArtifactError(f"{where}: graphs.{role} must name a file listed in 'files'")


def read(model_dir: Path | str) -> Card:
    """Read and check card.json, and that every file it lists is present with its sha256."""
    model_dir = Path(model_dir)
    path = model_dir / CARD_FILE
    if not path.is_file():
        raise ArtifactError(f"{path}: missing (not a pairscore model folder?)")
    try:
        text = path.read_text()
    except UnicodeDecodeError as exc:
        raise ArtifactError(f"{path}: not valid JSON ({exc})") from exc
    card = from_json(text, path)
    for name, expected in card.files.items():
        file = model_dir / name
        if not file.is_file():
            raise ArtifactError(f"{file}: missing (listed in {CARD_FILE})")
        actual = sha256_file(file)
        if actual != expected:
            raise ArtifactError(
                f"{file}: sha256 {actual} does not match {CARD_FILE} ({expected}): file is corrupt or was changed"
            )
    check_graphs(card, path)
    return card


def write(model_dir: Path | str, card: Card) -> Path:
    """Write card.json, as format FORMAT_VERSION, with the sha256 of every other file in the folder."""
    model_dir = Path(model_dir)
    card.format_version = FORMAT_VERSION
    card.files = {
        path.name: sha256_file(path)
        for path in sorted(model_dir.iterdir())
        if path.is_file() and path.name != CARD_FILE
    }
    path = model_dir / CARD_FILE
    check_graphs(card, path)
    path.write_text(card.to_json())
    return path
