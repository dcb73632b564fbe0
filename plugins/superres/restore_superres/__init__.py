"""restore-superres: x2 and x4 super-resolution with a light RRDB network, and an x4
variant for real small photos."""

from __future__ import annotations

from restore.api import hookimpl
from restore.api.hookspecs import RegisterStage, RegisterTraining

from restore_superres.learned import SuperResRealX4, SuperResX2, SuperResX4


@hookimpl
def register_stages(register: RegisterStage) -> None:
    """Register the super-resolution stages."""
    register(SuperResX2)
    register(SuperResX4)
    register(SuperResRealX4)


@hookimpl
def register_training(register: RegisterTraining) -> None:
    """Register their training recipes."""
    from restore_superres.recipes import RECIPES  # training code loads only for training

    for recipe in RECIPES:
        register(recipe)
