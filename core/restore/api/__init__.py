"""The plugin API: everything a plugin author imports, and nothing else.

Stages (``Stage``, ``StageParams``, ports, the ``Tiling`` descriptor), the hook
marker, learned networks (``restore.api.network``, ``restore.api.weights``,
building blocks in ``restore.api.blocks``, stage bases in ``restore.api.learned``),
the model cache and blur kernels
(``restore.api.kernels``). Nothing here imports the
engine, I/O, app or lab layers. Names are imported on first use, so the CLI can
read the hook specification without loading torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

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

_MODULES = {
    "errors": (
        "Cancelled",
        "ImageReadError",
        "ImageWriteError",
        "PipelineError",
        "RestoreError",
        "StageUnavailable",
    ),
    "hookspecs": ("hookimpl",),
    "models": ("models",),
    "stage": (
        "Channels",
        "Port",
        "PortKind",
        "Stage",
        "StageParams",
        "TilePolicy",
        "Tiling",
        "per_image",
    ),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}


def __getattr__(name: str) -> object:
    """Import an exported name on first use."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'restore.api' has no attribute {name!r}")
    return getattr(importlib.import_module(f"restore.api.{_EXPORTS[name]}"), name)


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
