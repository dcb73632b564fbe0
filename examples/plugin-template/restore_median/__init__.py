"""A minimal out-of-tree restore plugin: one stage, ``median.denoise``.

Copy this folder, rename the package and the entry point, and replace the stage.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from pydantic import Field

from restore.api import Stage, StageParams, Tiling, hookimpl


class MedianParams(StageParams):
    """Parameters of the median denoiser."""

    radius: int = Field(1, ge=1, le=4, description="window radius: the window is 2r+1 pixels")


class MedianDenoise(Stage[MedianParams]):
    """Replaces each pixel by the median of its (2r+1)^2 neighbourhood, per channel."""

    name = "median.denoise"
    summary = "median filter (salt-and-pepper and mild noise)"
    tiling = Tiling(halo=4)  # covers the largest allowed radius, so tiling is exact

    def process(
        self, inputs: Mapping[str, torch.Tensor], params: MedianParams
    ) -> dict[str, torch.Tensor]:
        image = inputs["image"]
        r = params.radius
        padded = F.pad(image, (r, r, r, r), mode="replicate")
        windows = padded.unfold(2, 2 * r + 1, 1).unfold(3, 2 * r + 1, 1)
        return {"image": windows.flatten(-2).median(dim=-1).values}


@hookimpl
def register_stages(register):
    """Contribute this plugin's stages."""
    register(MedianDenoise)
