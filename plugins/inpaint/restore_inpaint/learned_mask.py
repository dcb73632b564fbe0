"""``inpaint.unet_mask``: the learned damage detector (scratches, cracks, dust, tears).

The network and its facts are in ``unet`` (``unet.SPEC``); ``weights`` runs a
user's own model made by ``restore train inpaint.unet_mask`` instead of the
shipped one. Colour images are judged on their luma.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from restore.api import Channels, Port, PortKind, Stage, StageParams, Tiling
from restore.api.weights import load_network, weights_problems
from torch import nn

from restore_inpaint import unet

WEIGHTS = resources.files("restore_inpaint").joinpath("weights")
SHIPPED = "unet-mask"
MAX_DILATE = 15


class LearnedMaskParams(StageParams):
    """Parameters of ``inpaint.unet_mask``."""

    threshold: float = Field(
        0.5, gt=0, lt=1, description="Damage probability above which a pixel is marked."
    )
    dilate: int = Field(
        0, ge=0, le=MAX_DILATE, description="Grow the marked damage by this many pixels."
    )
    output: Literal["mask", "probability"] = Field(
        "mask",
        description="`mask`: 1 where marked (thresholded, dilated), else 0; "
        "`probability`: the network's damage probability itself (a soft mask).",
    )
    weights: Path | None = Field(
        None,
        description="A .safetensors file made by `restore train inpaint.unet_mask`, used "
        "instead of the shipped weights.",
    )


class LearnedMask(Stage[LearnedMaskParams]):
    """Damage detector: a U-Net's per-pixel damage probability, thresholded and dilated."""

    name = "inpaint.unet_mask"
    summary = (
        "Learned damage detector (U-Net on the luma, trained here on synthesized print "
        "damage: cracks, folds, tears, crazing, stains, scratches, dust): outputs a mask."
    )
    inputs: ClassVar[Mapping[str, Port]] = {"image": Port(channels=Channels.GRAY)}
    outputs: ClassVar[Mapping[str, Port]] = {"mask": Port(PortKind.MASK)}
    tiling = Tiling(
        halo=unet.SPEC.halo(unet.DamageUNetConfig()) + MAX_DILATE,
        multiple=unet.SPEC.multiple,
        precisions=unet.SPEC.precisions,
    )

    @classmethod
    def check(cls, params: LearnedMaskParams) -> list[str]:
        """A user's weights file must be made for this stage and architecture."""
        return weights_problems(params.weights, stage=cls.name, architectures=(unet.ARCHITECTURE,))

    def network(self, weights: Path | None) -> nn.Module:
        """The detector (``weights``, or the shipped one), loaded once per process and device."""
        path = weights or WEIGHTS.joinpath(f"{SHIPPED}.safetensors")
        module, _ = load_network(
            unet.SPEC, path, device=self.device, stage=self.name, max_halo=self.tiling.halo
        )
        return module

    def process(
        self, inputs: Mapping[str, torch.Tensor], params: LearnedMaskParams
    ) -> dict[str, torch.Tensor]:
        """The damage mask (or probability) of each image of the batch."""
        luma = inputs["image"].contiguous(memory_format=torch.channels_last)
        probability = torch.sigmoid(self.network(params.weights)(luma).float())
        if params.output == "probability":
            return {"mask": probability}
        marked = (probability > params.threshold).float()
        if params.dilate:
            size = 2 * params.dilate + 1
            marked = F.max_pool2d(marked, size, stride=1, padding=params.dilate)
        return {"mask": marked}
