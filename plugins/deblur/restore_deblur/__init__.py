"""restore-deblur: a learned deblurrer (blind, or given the kernel) and classical
non-blind deconvolution baselines (Wiener, Richardson-Lucy)."""

from __future__ import annotations

from restore.api import hookimpl
from restore.api.hookspecs import RegisterStage, RegisterTraining

from restore_deblur.learned import LearnedDeblur
from restore_deblur.richardson_lucy import RichardsonLucy
from restore_deblur.wiener import Wiener


@hookimpl
def register_stages(register: RegisterStage) -> None:
    """Register the deblurring stages."""
    register(Wiener)
    register(RichardsonLucy)
    register(LearnedDeblur)


@hookimpl
def register_training(register: RegisterTraining) -> None:
    """Register the training recipes of the learned deblurrer."""
    from restore_deblur.recipes import RECIPES  # training code loads only for training

    for recipe in RECIPES:
        register(recipe)
