"""restore-dejpeg: blind removal of JPEG blocking, ringing and colour bleeding."""

from __future__ import annotations

from restore.api import hookimpl
from restore.api.hookspecs import RegisterStage, RegisterTraining

from restore_dejpeg.learned import FlexibleDejpeg, LearnedDejpeg


@hookimpl
def register_stages(register: RegisterStage) -> None:
    """Register the JPEG artifact removers."""
    register(LearnedDejpeg)
    register(FlexibleDejpeg)


@hookimpl
def register_training(register: RegisterTraining) -> None:
    """Register its training recipe."""
    from restore_dejpeg.recipes import RECIPES  # training code loads only for training

    for recipe in RECIPES:
        register(recipe)
