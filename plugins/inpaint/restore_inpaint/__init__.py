"""restore-inpaint: classical baselines for finding and filling dust, dirt and scratches."""

from __future__ import annotations

from restore.api import hookimpl
from restore.api.hookspecs import RegisterStage

from restore_inpaint.damage_mask import DamageMask
from restore_inpaint.opencv import OpenCVInpaint


@hookimpl
def register_stages(register: RegisterStage) -> None:
    """Register the damage-detection and inpainting stages."""
    register(DamageMask)
    register(OpenCVInpaint)
