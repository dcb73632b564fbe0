"""restore-inpaint: finding and filling dust, dirt, scratches and cracks: a learned
damage detector and the classical baselines."""

from __future__ import annotations

from restore.api import hookimpl
from restore.api.hookspecs import RegisterStage, RegisterTraining

from restore_inpaint.damage_mask import DamageMask
from restore_inpaint.learned_fill import LearnedFill
from restore_inpaint.learned_mask import LearnedMask
from restore_inpaint.opencv import OpenCVInpaint


@hookimpl
def register_stages(register: RegisterStage) -> None:
    """Register the damage-detection and inpainting stages."""
    register(DamageMask)
    register(LearnedMask)
    register(OpenCVInpaint)
    register(LearnedFill)


@hookimpl
def register_training(register: RegisterTraining) -> None:
    """Register the training recipes of the learned damage detector and inpainter."""
    from restore_inpaint.recipes import RECIPES  # training code loads only for training

    for recipe in RECIPES:
        register(recipe)
