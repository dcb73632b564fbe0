"""``dejpeg.cnn``: blind JPEG artifact removal, quality 10 to 90, with a user strength;
``dejpeg.flexible``: the same, steered by the JPEG quality, which it estimates or
the user gives (FBCNN-style).

The networks and their facts are in ``network`` (``network.SPEC``) and ``flexible``
(``flexible.SPEC``); ``weights`` runs a user's own model made by ``restore train
dejpeg.cnn`` (or ``dejpeg.flexible``). Gray images run as gray-as-RGB and come back
gray.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import torch
from pydantic import Field
from restore.api.learned import CorrectionParams, RGBCorrection

from restore_dejpeg import flexible, network


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


class FlexibleDejpegParams(CorrectionParams):
    """Parameters of ``dejpeg.flexible``."""

    quality: int | None = Field(
        None,
        ge=1,
        le=100,
        description="The JPEG quality to remove the artifacts of; unset, the network "
        "estimates it at each place of the photo. Lower smooths more, higher keeps more "
        "fine detail (and some artifacts).",
    )
    strength: float = Field(
        1.0,
        ge=0,
        le=2,
        description="Scale of the learned correction: 0 keeps the JPEG as it is, 1 is the "
        "trained amount.",
    )
    weights: Path | None = Field(
        None,
        description="A .safetensors file made by `restore train dejpeg.flexible`, used "
        "instead of the shipped weights.",
    )


class FlexibleDejpeg(RGBCorrection[FlexibleDejpegParams]):
    """Residual CNN steered by a quality map: estimated, or the user's ``quality``."""

    name = "dejpeg.flexible"
    summary = (
        "Learned JPEG artifact removal steered by the JPEG quality, which it estimates "
        "(locally) or takes from `quality`: lower smooths more, higher keeps detail."
    )
    network_spec = flexible.SPEC
    weights_folder = resources.files("restore_dejpeg").joinpath("weights")
    shipped = "flexible"
    tiling = flexible.SPEC.tiling(flexible.FlexibleConfig())

    def correction(self, rgb: torch.Tensor, params: FlexibleDejpegParams) -> torch.Tensor:
        """The correction at the estimated quality, or at ``params.quality``."""
        model = flexible.steerable(self.network(params.weights))
        if params.quality is None:
            return model(rgb)
        return model.correct(rgb, flexible.quality_map(rgb, params.quality))
