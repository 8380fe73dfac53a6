"""The model folder's files besides the card: where export may write, and the weights, tokenizer, pair features
and graphs it writes there."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer

from pairscore import artifact
from pairscore.card import Graphs, from_json
from training.export.checkpoint import Checkpoint
from training.export.errors import ExportError
from training.export.graphs import write_graphs
from training.pretrained import save_weights


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
            written_from = from_json(card_path.read_text(), card_path).checkpoint
        except (artifact.ArtifactError, UnicodeDecodeError):
            written_from = None
        if written_from is None or Path(written_from).resolve() != checkpoint.resolve():
            raise ExportError(
                f"{out}: holds another model (its card was exported from {written_from}); "
                "pick a new folder, or pass --force to replace it"
            )
    elif any(out.iterdir()):
        raise ExportError(f"{out}: not empty and not a model folder; pick a new folder, or pass --force")


def write_folder(source: Checkpoint, out: Path, temperature: float, int8: bool, table_dtype: str) -> Graphs:
    """The weights, the tokenizer, the pair features and the graphs (checked symbolic); returns the card's `graphs`.
    A card left from an earlier export goes first: until export writes the new one, nothing serves the folder."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in (artifact.CARD_FILE, artifact.ENCODER_INT8_FILE, artifact.FEATURES_FILE):
        (out / stale).unlink(missing_ok=True)
    # the distillation's projection ("projection.*") rides along, so a distillation can continue from the folder
    save_weights(out / artifact.WEIGHTS_FILE, {**source.model.state_dict(), **source.record.projection})
    Tokenizer.from_str(source.record.tokenizer).save(str(out / artifact.TOKENIZER_FILE))
    if source.features:
        source.features.save(out / artifact.FEATURES_FILE)
    return write_graphs(source.model, out, temperature, int8, table_dtype)
