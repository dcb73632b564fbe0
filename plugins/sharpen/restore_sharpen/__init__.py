"""restore-sharpen: a learned sharpener of mild softness and the classical baseline
(unsharp mask)."""

from __future__ import annotations

from restore.api import hookimpl
from restore.api.hookspecs import RegisterStage, RegisterTraining

from restore_sharpen.learned import LearnedSharpen
from restore_sharpen.unsharp import Unsharp


@hookimpl
def register_stages(register: RegisterStage) -> None:
    """Register the sharpening stages."""
    register(Unsharp)
    register(LearnedSharpen)


@hookimpl
def register_training(register: RegisterTraining) -> None:
    """Register the training recipe of the learned sharpener."""
    from restore_sharpen.recipes import RECIPES  # training code loads only for training

    for recipe in RECIPES:
        register(recipe)
