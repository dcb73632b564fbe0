"""restore-colorize: learned colorization in CIELAB (U-Nets over a*b* colour bins, with hints)."""

from __future__ import annotations

from restore.api import hookimpl
from restore.api.hookspecs import RegisterStage, RegisterTraining

from restore_colorize.unet import GlobalColorize, RegressionColorize, UNetColorize


@hookimpl
def register_stages(register: RegisterStage) -> None:
    """Register the colorization stages."""
    register(GlobalColorize)
    register(UNetColorize)
    register(RegressionColorize)


@hookimpl
def register_training(register: RegisterTraining) -> None:
    """Register the colorizers' training recipes."""
    from restore_colorize.recipes import RECIPES  # training code loads only for training

    for recipe in RECIPES:
        register(recipe)
