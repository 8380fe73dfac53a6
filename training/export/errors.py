"""The one error export raises: a checkpoint or a folder it cannot turn into a correct model folder."""

from __future__ import annotations


class ExportError(RuntimeError):
    """The export cannot produce a correct model folder; the message says why."""
