"""restore-sharpen: classical sharpening baselines (unsharp mask)."""

from __future__ import annotations

from restore.api import hookimpl
from restore.api.hookspecs import RegisterStage

from restore_sharpen.unsharp import Unsharp


@hookimpl
def register_stages(register: RegisterStage) -> None:
    """Register the sharpening stages."""
    register(Unsharp)
