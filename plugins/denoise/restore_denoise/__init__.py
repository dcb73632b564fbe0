"""restore-denoise: learned blind denoisers (DnCNN family, MWCNN) and OpenCV non-local means."""

from __future__ import annotations

from restore.api import hookimpl
from restore.api.hookspecs import RegisterStage, RegisterTraining

from restore_denoise.learned import DnCNNDenoise, MWCNNDenoise
from restore_denoise.nlmeans import NLMeans


@hookimpl
def register_stages(register: RegisterStage) -> None:
    """Register the denoising stages."""
    register(NLMeans)
    register(DnCNNDenoise)
    register(MWCNNDenoise)


@hookimpl
def register_training(register: RegisterTraining) -> None:
    """Register the training recipes of the learned denoisers."""
    from restore_denoise.recipes import RECIPES  # training code loads only for training

    for recipe in RECIPES:
        register(recipe)
