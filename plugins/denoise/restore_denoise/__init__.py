"""restore-denoise: classical denoising baselines (OpenCV non-local means)."""

from __future__ import annotations

from restore import hookimpl
from restore.hookspecs import RegisterStage

from restore_denoise.nlmeans import NLMeans


@hookimpl
def register_stages(register: RegisterStage) -> None:
    """Register the denoising stages."""
    register(NLMeans)
