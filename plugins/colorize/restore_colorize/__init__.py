"""restore-colorize: learned colorization (a LAB U-Net; weights are not shipped yet)."""

from __future__ import annotations

from restore import hookimpl
from restore.hookspecs import RegisterStage

from restore_colorize.unet import UNetColorize


@hookimpl
def register_stages(register: RegisterStage) -> None:
    """Register the colorization stages."""
    register(UNetColorize)
