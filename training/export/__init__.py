"""`pairscore export`: a `pairscore train` checkpoint -> a served model folder (docs/artifact-format.md).

One module per job: checkpoint (what export reads from the checkpoint), calibration (the temperature folded into
the head), graphs (ONNX graph surgery), folder (the files besides the card), parity (onnxruntime vs torch), card
(the card, built in memory and written once), cli (the flow and `pairscore export`'s arguments).
"""

from training.export.cli import export, main
from training.export.errors import ExportError

__all__ = ["ExportError", "export", "main"]
