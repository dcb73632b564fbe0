"""``dejpeg.cnn``: blind JPEG artifact removal, quality 10 to 90, with a user strength.

The network and its facts are in ``network`` (``network.SPEC``); ``weights`` runs a
user's own model made by ``restore train dejpeg.cnn``. Gray images run as
gray-as-RGB and come back gray.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import Field
from restore.api.learned import CorrectionParams, RGBCorrection

from restore_dejpeg import network


class LearnedDejpegParams(CorrectionParams):
    """Parameters of ``dejpeg.cnn``."""

    strength: float = Field(
        1.0,
        ge=0,
        le=2,
        description="Scale of the learned correction: 0 keeps the JPEG as it is, 1 is the "
        "trained amount; lower keeps more fine detail (and some artifacts), higher smooths more.",
    )
    weights: Path | None = Field(
        None,
        description="A .safetensors file made by `restore train dejpeg.cnn`, used instead of "
        "the shipped weights.",
    )


class LearnedDejpeg(RGBCorrection[LearnedDejpegParams]):
    """Residual CNN: input + strength x the network's correction of JPEG artifacts."""

    name = "dejpeg.cnn"
    summary = (
        "Learned JPEG artifact removal (residual CNN at half resolution, blind to the "
        "quality, 10-90): blocking, ringing and colour bleeding; strength scales it."
    )
    network_spec = network.SPEC
    weights_folder = resources.files("restore_dejpeg").joinpath("weights")
    shipped = "cnn"
    tiling = network.SPEC.tiling(network.DejpegConfig())
