"""``superres.rrdb_x2`` and ``superres.rrdb_x4``: fidelity super-resolution (L1-trained
on bicubic-downscaled photos), gray and colour; ``superres.real_x4``: the x4 network
fine-tuned for real small photos (second-order degradation, L1).

The network and its facts are in ``rrdb`` (``rrdb.SPECS``); ``weights`` runs a
user's own model made by ``restore train superres.rrdb_x2`` (or ``_x4``). Gray
images run as gray-as-RGB and come back gray. Stages after these work at the
new size; the output keeps the input's alpha (resized), ICC profile, EXIF and
format, with its resolution scaled (``restore.io.images``).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import torch
from pydantic import Field
from restore.api.learned import LearnedStage, WeightsParams

from restore_superres import rrdb

WEIGHTS = resources.files("restore_superres").joinpath("weights")


class SuperResParams(WeightsParams):
    """Parameters of the super-resolution stages."""

    weights: Path | None = Field(
        None,
        description="A .safetensors file made by `restore train` with this stage's recipe "
        "(`restore train superres.rrdb_x2` ...), used instead of the shipped weights.",
    )


class SuperRes(LearnedStage[SuperResParams]):
    """The image ``scale`` times larger, from the RRDB network."""

    def process(
        self, inputs: Mapping[str, torch.Tensor], params: SuperResParams
    ) -> dict[str, torch.Tensor]:
        """Each image of the batch upscaled."""
        image = inputs["image"]
        rgb = image.expand(-1, rrdb.COLOURS, -1, -1).contiguous(memory_format=torch.channels_last)
        upscaled = self.network(params.weights)(rgb).float()
        if image.shape[1] == 1:
            upscaled = upscaled.mean(dim=1, keepdim=True)
        return {"image": upscaled.clamp(0, 1)}


class SuperResX2(SuperRes):
    """x2 fidelity super-resolution."""

    name = "superres.rrdb_x2"
    summary = (
        "Super-resolution x2 (light RRDB network, L1 on bicubic-downscaled photos): "
        "faithful detail, no invented texture."
    )
    network_spec = rrdb.SPECS[2]
    weights_folder = WEIGHTS
    shipped = "rrdb-x2"
    tiling = rrdb.SPECS[2].tiling(rrdb.RRDBConfig())


class SuperResX4(SuperRes):
    """x4 fidelity super-resolution."""

    name = "superres.rrdb_x4"
    summary = (
        "Super-resolution x4 (light RRDB network, L1 on bicubic-downscaled photos): "
        "faithful detail, no invented texture."
    )
    network_spec = rrdb.SPECS[4]
    weights_folder = WEIGHTS
    shipped = "rrdb-x4"
    tiling = rrdb.SPECS[4].tiling(rrdb.RRDBConfig())


class SuperResRealX4(SuperRes):
    """x4 super-resolution of real small photos (blurred, noisy, compressed)."""

    name = "superres.real_x4"
    summary = (
        "Super-resolution x4 for real small photos (the x4 RRDB network fine-tuned on "
        "blur, resize, noise and JPEG applied twice): cleans as it enlarges."
    )
    network_spec = rrdb.SPECS[4]
    weights_folder = WEIGHTS
    shipped = "real-x4"
    tiling = rrdb.SPECS[4].tiling(rrdb.RRDBConfig())
