"""restore: plugin-based image restoration and colorization.

Embed it with ``Pipeline``; write plugins against ``restore.api`` (``hookimpl``,
``Stage``, ``StageParams``, ``Port``, ``Tiling``). Importing ``restore`` itself
loads nothing heavy: each name is imported on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "Cancelled": "restore.api.errors",
    "ImageReadError": "restore.api.errors",
    "ImageWriteError": "restore.api.errors",
    "PipelineError": "restore.api.errors",
    "RestoreError": "restore.api.errors",
    "StageUnavailable": "restore.api.errors",
    "hookimpl": "restore.api.hookspecs",
    "models": "restore.api.models",
    "Channels": "restore.api.stage",
    "Port": "restore.api.stage",
    "PortKind": "restore.api.stage",
    "Stage": "restore.api.stage",
    "StageParams": "restore.api.stage",
    "TilePolicy": "restore.api.stage",
    "Tiling": "restore.api.stage",
    "Pipeline": "restore.app.pipeline",
    "RunResult": "restore.app.pipeline",
}

if TYPE_CHECKING:
    from restore.api.errors import (
        Cancelled,
        ImageReadError,
        ImageWriteError,
        PipelineError,
        RestoreError,
        StageUnavailable,
    )
    from restore.api.hookspecs import hookimpl
    from restore.api.models import models
    from restore.api.stage import Channels, Port, PortKind, Stage, StageParams, TilePolicy, Tiling
    from restore.app.pipeline import Pipeline, RunResult


def __getattr__(name: str) -> object:
    """Import an exported name on first use, so ``import restore`` stays light."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'restore' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "Cancelled",
    "Channels",
    "ImageReadError",
    "ImageWriteError",
    "Pipeline",
    "PipelineError",
    "Port",
    "PortKind",
    "RestoreError",
    "RunResult",
    "Stage",
    "StageParams",
    "StageUnavailable",
    "TilePolicy",
    "Tiling",
    "hookimpl",
    "models",
]
