"""``inpaint.gated``: the learned inpainter (fills the mask from its surroundings).

The network and its facts are in ``gated`` (``gated.SPEC``); ``weights`` runs a
user's own model made by ``restore train inpaint.gated``. Gray images are filled
as gray-as-RGB and returned gray; colour fills stay within the colours around them
(``surrounding_colour``). Pixels outside the mask are kept exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import ClassVar

import torch
from pydantic import Field
from restore.api import Channels, Port, PortKind, Stage, StageParams, Tiling
from restore.api.weights import load_network, weights_problems
from torch import nn

from restore_inpaint import gated, surrounding_colour

WEIGHTS = resources.files("restore_inpaint").joinpath("weights")
SHIPPED = "gated-fill"


class LearnedFillParams(StageParams):
    """Parameters of ``inpaint.gated``."""

    weights: Path | None = Field(
        None,
        description="A .safetensors file made by `restore train inpaint.gated`, used "
        "instead of the shipped weights.",
    )


class LearnedFill(Stage[LearnedFillParams]):
    """Inpainter: a gated-convolution U-Net fills where the mask is above 0.5."""

    name = "inpaint.gated"
    summary = (
        "Learned inpainter (gated-convolution U-Net, trained here on synthesized print "
        "damage): fills the mask from its surroundings, other pixels kept exactly."
    )
    inputs: ClassVar[Mapping[str, Port]] = {
        "image": Port(channels=Channels.ANY),
        "mask": Port(PortKind.MASK),
    }
    tiling = Tiling(
        halo=gated.SPEC.halo(gated.GatedUNetConfig()) + surrounding_colour.REACH,
        multiple=gated.SPEC.multiple,
        precisions=gated.SPEC.precisions,
    )

    @classmethod
    def check(cls, params: LearnedFillParams) -> list[str]:
        """A user's weights file must be made for this stage and architecture."""
        return weights_problems(params.weights, stage=cls.name, architectures=(gated.ARCHITECTURE,))

    def network(self, weights: Path | None) -> nn.Module:
        """The inpainter (``weights``, or the shipped one), loaded once per process and device."""
        path = weights or WEIGHTS.joinpath(f"{SHIPPED}.safetensors")
        reach = self.tiling.halo - surrounding_colour.REACH
        module, _ = load_network(
            gated.SPEC, path, device=self.device, stage=self.name, max_halo=reach
        )
        return module

    def process(
        self, inputs: Mapping[str, torch.Tensor], params: LearnedFillParams
    ) -> dict[str, torch.Tensor]:
        """Each image of the batch with its masked pixels filled."""
        image, mask = inputs["image"], (inputs["mask"] > 0.5).to(inputs["image"].dtype)
        gray = image.shape[1] == 1
        rgb = image.expand(-1, 3, -1, -1) if gray else image
        network_input = torch.cat([rgb, mask], dim=1).contiguous(memory_format=torch.channels_last)
        filled = self.network(params.weights)(network_input).float()
        if gray:
            filled = filled.mean(dim=1, keepdim=True)
        else:
            filled = surrounding_colour.within_surrounding_colour(
                filled, image.float(), mask.float()
            )
        return {"image": image * (1 - mask) + filled * mask}
