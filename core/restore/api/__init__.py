"""The plugin API: everything a plugin author imports, and nothing else.

Stages (``Stage``, ``StageParams``, ports, the ``Tiling`` descriptor), the hook
marker, learned networks (``NetworkSpec``, verified weights), the model cache
and blur kernels. Nothing here imports the engine, I/O, app or lab layers.
"""

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
from restore.api.stage import (
    Channels,
    Port,
    PortKind,
    Stage,
    StageParams,
    TilePolicy,
    Tiling,
    per_image,
)

__all__ = [
    "Cancelled",
    "Channels",
    "ImageReadError",
    "ImageWriteError",
    "PipelineError",
    "Port",
    "PortKind",
    "RestoreError",
    "Stage",
    "StageParams",
    "StageUnavailable",
    "TilePolicy",
    "Tiling",
    "hookimpl",
    "models",
    "per_image",
]
