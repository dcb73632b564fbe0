"""restore: plugin-based image restoration and colorization.

Embed it with ``Pipeline``; write plugins with ``hookimpl``, ``Stage``,
``StageParams``, ``Port`` and ``Tiling``.
"""

from restore.errors import (
    Cancelled,
    ImageReadError,
    ImageWriteError,
    PipelineError,
    RestoreError,
    StageUnavailable,
)
from restore.hookspecs import hookimpl
from restore.models import models
from restore.stage import Channels, Port, PortKind, Stage, StageParams, TilePolicy, Tiling

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """Import the embedding API lazily, so plugins importing ``restore`` stay light."""
    if name in ("Pipeline", "RunResult"):
        from restore import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'restore' has no attribute {name!r}")


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
