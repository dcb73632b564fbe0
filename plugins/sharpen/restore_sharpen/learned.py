"""``sharpen.cnn``: learned sharpening of mild softness, with a user strength.

The network and its facts are in ``cnn`` (``cnn.SPEC``); ``weights`` runs a
user's own model made by ``restore train sharpen.cnn``. Gray images run as
gray-as-RGB and come back gray.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import Field
from restore.api.learned import CorrectionParams, RGBCorrection

from restore_sharpen import cnn


class LearnedSharpenParams(CorrectionParams):
    """Parameters of ``sharpen.cnn``."""

    strength: float = Field(
        1.0,
        ge=0,
        le=2,
        description="Scale of the learned correction: 0 is the input exactly, 1 the trained "
        "sharpening, up to 2.",
    )
    weights: Path | None = Field(
        None,
        description="A .safetensors file made by `restore train sharpen.cnn`, used instead of "
        "the shipped weights.",
    )


class LearnedSharpen(RGBCorrection[LearnedSharpenParams]):
    """Residual CNN sharpener: input + strength x the network's correction."""

    name = "sharpen.cnn"
    summary = (
        "Learned sharpening (small residual CNN at half resolution): restores edge contrast "
        "lost to mild softness (blur sigma 0.7-1.5 px, then JPEG); strength scales it."
    )
    network_spec = cnn.SPEC
    weights_folder = resources.files("restore_sharpen").joinpath("weights")
    shipped = "cnn"
    tiling = cnn.SPEC.tiling(cnn.SharpenCNNConfig())
