"""``colorize.unet``: learned colorization in CIELAB with :mod:`restore_colorize.network`."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from typing import ClassVar

import safetensors.torch
import torch
import torch.nn.functional as F
from pydantic import Field
from restore import Channels, Port, Stage, StageParams, StageUnavailable, TilePolicy, Tiling
from restore.models import models as model_cache

from restore_colorize.lab import lab_to_rgb, rgb_to_lab
from restore_colorize.network import MULTIPLE, ColorizeUNet

WEIGHTS: Traversable = resources.files("restore_colorize").joinpath(
    "weights", "colorize_unet.safetensors"
)
AB_RANGE = 110.0  # the network's [-1, 1] output spans a*, b* in [-110, 110]


class UNetColorizeParams(StageParams):
    """Parameters of ``colorize.unet``."""

    strength: float = Field(
        1.0, ge=0, le=2, description="Chroma multiplier: 0 gives gray, above 1 more saturated."
    )
    working_size: int = Field(
        512, ge=64, le=2048, description="Long side in pixels of the copy the network sees."
    )


class UNetColorize(Stage):
    """Predicts colour from lightness at low resolution, keeps full-resolution lightness."""

    name = "colorize.unet"
    summary = (
        "Learned colorization: a U-Net predicts CIELAB a*b* chroma from L* on a "
        "`working_size` copy; the full-resolution L* is kept. Needs "
        "restore_colorize/weights/colorize_unet.safetensors (not shipped yet)."
    )
    inputs: ClassVar[Mapping[str, Port]] = {"image": Port(channels=Channels.ANY)}
    outputs: ClassVar[Mapping[str, Port]] = {"image": Port(channels=Channels.RGB)}
    Params = UNetColorizeParams
    tiling = Tiling(policy=TilePolicy.LOWRES, working_size=512)

    def process(
        self, inputs: Mapping[str, torch.Tensor], params: StageParams
    ) -> dict[str, torch.Tensor]:
        """Colorize a batch: predict a*b* from the L* of each image."""
        assert isinstance(params, UNetColorizeParams)
        network = self._network()
        lightness = _lightness(inputs["image"])
        height, width = lightness.shape[-2:]
        padding = (0, -width % MULTIPLE, 0, -height % MULTIPLE)
        with torch.inference_mode():
            scaled = network(F.pad(lightness / 100, padding, mode="replicate"))
        chroma = scaled[..., :height, :width] * AB_RANGE * params.strength
        return {"image": lab_to_rgb(torch.cat([lightness, chroma], 1))}

    def transfer(
        self,
        full: Mapping[str, torch.Tensor],
        low_outputs: Mapping[str, torch.Tensor],
        params: StageParams,
    ) -> dict[str, torch.Tensor]:
        """Combine the full-resolution L* with the upscaled low-resolution a*b*."""
        lightness = _lightness(full["image"])
        chroma = rgb_to_lab(low_outputs["image"])[:, 1:]
        chroma = F.interpolate(
            chroma, size=lightness.shape[-2:], mode="bilinear", align_corners=False
        )
        return {"image": lab_to_rgb(torch.cat([lightness, chroma], 1))}

    def _network(self) -> ColorizeUNet:
        weights = WEIGHTS
        if not weights.is_file():
            raise StageUnavailable(
                f"{self.name}: no trained weights installed "
                "(expected restore_colorize/weights/colorize_unet.safetensors)"
            )

        def load() -> ColorizeUNet:
            network = ColorizeUNet()
            network.load_state_dict(safetensors.torch.load(weights.read_bytes()))
            return network.to(self.device).eval()

        return model_cache.get((self.name, str(weights), str(self.device)), load)


def _lightness(image: torch.Tensor) -> torch.Tensor:
    """L* (N x 1 x H x W) of a gray or RGB batch."""
    rgb = image.expand(-1, 3, -1, -1) if image.shape[1] == 1 else image
    return rgb_to_lab(rgb)[:, :1]
