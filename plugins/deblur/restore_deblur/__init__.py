"""restore-deblur: classical non-blind deconvolution baselines (Wiener, Richardson-Lucy)."""

from __future__ import annotations

from restore.api import hookimpl
from restore.api.hookspecs import RegisterStage

from restore_deblur.richardson_lucy import RichardsonLucy
from restore_deblur.wiener import Wiener


@hookimpl
def register_stages(register: RegisterStage) -> None:
    """Register the deblurring stages."""
    register(Wiener)
    register(RichardsonLucy)
