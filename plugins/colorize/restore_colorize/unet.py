"""``colorize.global``, ``colorize.unet`` and ``colorize.regression``: colorization in CIELAB.

The network sees the L* of a working copy whose long side is ``working_size``
(the tiler's ``lowres`` policy: the whole image, never tiles, which the global
pooling of both networks needs) plus optional user colour hints, and predicts
a*b*. The result keeps the original full-resolution L* exactly: ``transfer``
upsamples the working copy's a*b* bilinearly and recombines it with the input's
own L* (chroma reduced where a colour would leave the sRGB gamut), in strips of
rows, so huge scans need memory and time bounded by the image itself.

``colorize.global`` (:mod:`restore_colorize.global_unet`) also normalises the
tone of the L* it sees (:mod:`restore_colorize.tone`), so sepia, faded and
gray prints get the same colours, and falls back toward neutral where its
colour distribution is wide (``spread_limit``).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import ClassVar, Literal, TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from restore.api import Channels, Port, Stage, StageParams, StageUnavailable, TilePolicy
from restore.api.network import NetworkSpec
from restore.api.weights import load_network, weights_problems

from restore_colorize.bins import TEMPERATURE
from restore_colorize.global_unet import GLOBAL_CLASSIFY, GlobalColorizeConfig, GlobalColorizeNet
from restore_colorize.hints import Hint, hint_maps
from restore_colorize.lab import lab_to_rgb_in_gamut, rgb_to_lab
from restore_colorize.network import CLASSIFY, REGRESS, ColorizeConfig, ColorizeNet
from restore_colorize.spread import SPREAD_SIZE, hint_corrections
from restore_colorize.tone import normalised_lightness

WEIGHTS_DIR: Traversable | Path = resources.files("restore_colorize").joinpath("weights")
STRIP_PIXELS = 1 << 20  # transfer works on strips of rows of about this many pixels


class ColorizeParams(StageParams):
    """Parameters of the learned colorizers."""

    strength: float = Field(
        1.0, ge=0, le=2, description="Chroma multiplier: 0 gives gray, above 1 more saturated."
    )
    working_size: int = Field(
        256, ge=64, le=2048, description="Long side in pixels of the copy the network sees."
    )
    hints: tuple[Hint, ...] = Field(
        (),
        max_length=1000,
        description=(
            "Colour hints: a list of {x, y, color} with x, y in [0, 1] (fractions of "
            "width and height) and color '#rrggbb' or [r, g, b]; the colour spreads "
            "around each hint."
        ),
    )
    weights: Path | None = Field(
        None,
        description="A .safetensors file made by `restore train` for this stage, used "
        "instead of the shipped weights.",
    )
    hint_reach: float = Field(
        0.3,
        ge=0,
        le=2,
        description=(
            "How far a hint's colour spreads after the network, edge-aware, as a fraction "
            "of the long side (0: only the network's own response to the hints)."
        ),
    )


UNetColorizeParams = ColorizeParams  # the name of the parameter model before the baseline
SPREAD_LIMIT = 35.0  # colorize.global's default spread_limit (provisional: see the benchmark)


class GlobalColorizeParams(ColorizeParams):
    """Parameters of ``colorize.global``: those of the other colorizers, and three more."""

    spread_limit: float = Field(
        SPREAD_LIMIT,
        ge=0,
        le=200,
        description=(
            "Width (a*b* standard deviation) of the predicted colour distribution at which "
            "a pixel's colour is pulled halfway to the fallback; wider ones fall back "
            "further (0: never, the plain annealed mean)."
        ),
    )
    fallback: Literal["neutral", "scene"] = Field(
        "neutral",
        description=(
            "What uncertain pixels fall back to: 'neutral' gray, or 'scene', the "
            "confident pixels' mean colour."
        ),
    )
    temperature: float = Field(
        TEMPERATURE,
        ge=0.05,
        le=1,
        description=(
            "Annealed-mean temperature of the colour readout: 1 is the mean of the predicted "
            "distribution (safe, muted), lower moves toward its most likely colour (vivid)."
        ),
    )
    keep_tone: float = Field(
        0.0,
        ge=0,
        le=1,
        description=(
            "How much of the print's own tone (its a*b*, e.g. sepia) stays under the "
            "predicted colour: 0 replaces it, 1 keeps all of it."
        ),
    )


Colorizer = ColorizeNet | GlobalColorizeNet
PC = TypeVar("PC", bound=ColorizeParams)


class LabColorize(Stage[PC]):
    """Predicts a*b* from L* (and hints) on a working copy; keeps the full-resolution L*."""

    network_spec: ClassVar[NetworkSpec[ColorizeConfig] | NetworkSpec[GlobalColorizeConfig]]
    weights_file: ClassVar[str]
    recipe: ClassVar[str]
    inputs: ClassVar[Mapping[str, Port]] = {"image": Port(channels=Channels.ANY)}
    outputs: ClassVar[Mapping[str, Port]] = {"image": Port(channels=Channels.RGB)}
    tiling = CLASSIFY.tiling(ColorizeConfig(), TilePolicy.LOWRES, working_size=256)

    def process(self, inputs: Mapping[str, torch.Tensor], params: PC) -> dict[str, torch.Tensor]:
        """Colorize a batch (the working copies): predict a*b* from L* and the hints."""
        network = self._network(params.weights)
        image = inputs["image"]
        lightness = lightness_of(image)
        seen = self.seen_lightness(lightness)
        n, _, height, width = lightness.shape
        hint_ab, hint_mask = hint_maps(params.hints, n, height, width, lightness.device)
        with torch.inference_mode():
            chroma = self.predict_chroma(network, seen, hint_ab, hint_mask, params)
        if hint_ab is not None and hint_mask is not None and params.hint_reach > 0:
            chroma = _spread(seen, chroma, hint_ab, hint_mask, params.hint_reach)
        chroma = chroma * params.strength + self.tone_trace(image, params)
        return {"image": lab_to_rgb_in_gamut(torch.cat([lightness, chroma], 1))}

    def seen_lightness(self, lightness: torch.Tensor) -> torch.Tensor:
        """The L* the network sees (and the hints spread along): the image's own."""
        return lightness

    def predict_chroma(
        self,
        network: Colorizer,
        lightness: torch.Tensor,
        hint_ab: torch.Tensor | None,
        hint_mask: torch.Tensor | None,
        params: PC,
    ) -> torch.Tensor:
        """The network's a*b* (N x 2 x H x W) for L* and the hint channels."""
        return network.chroma(lightness, hint_ab, hint_mask)

    def tone_trace(self, image: torch.Tensor, params: PC) -> torch.Tensor | float:
        """What of the input's own a*b* is added to the prediction: none."""
        return 0.0

    def transfer(
        self,
        full: Mapping[str, torch.Tensor],
        low_outputs: Mapping[str, torch.Tensor],
        params: ColorizeParams,
    ) -> dict[str, torch.Tensor]:
        """The full-resolution L* with the working copy's a*b* upsampled bilinearly."""
        return {"image": recombine(full["image"], rgb_to_lab(low_outputs["image"])[:, 1:])}

    @classmethod
    def check(cls, params: ColorizeParams) -> list[str]:
        """A user's weights file must be made for this stage and architecture."""
        return weights_problems(
            params.weights, stage=cls.name, architectures=(cls.network_spec.architecture,)
        )

    def _network(self, weights: Path | None) -> Colorizer:
        path = weights or WEIGHTS_DIR.joinpath(self.weights_file)
        if not path.is_file():
            raise StageUnavailable(
                f"{self.name}: no trained weights installed (expected "
                f"restore_colorize/weights/{self.weights_file}; make them with "
                f"`restore train {self.recipe} --out <that file>`)"
            )
        network, _ = load_network(self.network_spec, path, device=self.device, stage=self.name)
        if not isinstance(network, ColorizeNet | GlobalColorizeNet):
            raise StageUnavailable(f"{path}: {self.network_spec.architecture} built no colorizer")
        return network


def _spread(
    lightness: torch.Tensor,
    chroma: torch.Tensor,
    hint_ab: torch.Tensor,
    hint_mask: torch.Tensor,
    reach: float,
) -> torch.Tensor:
    """``chroma`` plus :func:`hint_corrections`, solved on a grid of at most ``SPREAD_SIZE``."""
    size = chroma.shape[-2:]
    factor = min(1.0, SPREAD_SIZE / max(size))
    grid = (round(size[0] * factor), round(size[1] * factor))

    def shrink(image: torch.Tensor) -> torch.Tensor:
        return F.interpolate(image, size=grid, mode="area") if factor < 1 else image

    weight = shrink(hint_mask)  # a hint's weight: the area it covers on the grid
    hints = shrink(hint_ab * hint_mask) / weight.clamp(min=1e-12)
    solved = [
        hint_corrections(
            light[0].cpu().numpy(),
            ab.cpu().numpy(),
            hint.cpu().numpy(),
            mask[0].cpu().numpy(),
            reach,
        )
        for light, ab, hint, mask in zip(
            shrink(lightness), shrink(chroma), hints, weight, strict=True
        )
    ]
    corrections = torch.from_numpy(np.stack(solved)).to(chroma.device)
    if factor < 1:
        corrections = F.interpolate(corrections, size=size, mode="bilinear", align_corners=False)
    return chroma + corrections


class UNetColorize(LabColorize[ColorizeParams]):
    """Zhang et al.-style classification over a*b* bins, annealed-mean readout, colour hints."""

    name = "colorize.unet"
    summary = (
        "Learned colorization: a U-Net classifies CIELAB a*b* into colour bins from L* "
        "(and optional colour hints) on a `working_size` copy; the full-resolution L* is kept."
    )
    network_spec = CLASSIFY
    weights_file = "colorize-unet.safetensors"
    recipe = "colorize.unet"


class RegressionColorize(LabColorize[ColorizeParams]):
    """The plain-regression baseline: the same U-Net regressing a*b* with an L2 loss."""

    name = "colorize.regression"
    summary = (
        "Baseline colorizer: the same U-Net regressing CIELAB a*b* (L2 loss), "
        "which gives duller colours than colorize.unet."
    )
    network_spec = REGRESS
    weights_file = "colorize-regression.safetensors"
    recipe = "colorize.regression"


class GlobalColorize(LabColorize[GlobalColorizeParams]):
    """Scene-level colours: a global-context U-Net on tone-normalised L*, confident readout."""

    name = "colorize.global"
    summary = (
        "Learned colorization with image-level context (one palette per scene): a U-Net "
        "with a global branch classifies CIELAB a*b* from tone-normalised L* (sepia, faded "
        "and gray prints alike) and falls back to neutral where unsure; full-resolution "
        "L* kept."
    )
    network_spec = GLOBAL_CLASSIFY
    weights_file = "colorize-global.safetensors"
    recipe = "colorize.global"
    tiling = GLOBAL_CLASSIFY.tiling(GlobalColorizeConfig(), TilePolicy.LOWRES, working_size=256)

    def seen_lightness(self, lightness: torch.Tensor) -> torch.Tensor:
        """The L* with its tone normalised (black, white and median points)."""
        return normalised_lightness(lightness)

    def predict_chroma(
        self,
        network: Colorizer,
        lightness: torch.Tensor,
        hint_ab: torch.Tensor | None,
        hint_mask: torch.Tensor | None,
        params: GlobalColorizeParams,
    ) -> torch.Tensor:
        """The confident readout: uncertain pixels pulled toward ``params.fallback``."""
        if not isinstance(network, GlobalColorizeNet):
            raise StageUnavailable(f"{self.name}: its weights built no GlobalColorizeNet")
        return network.chroma(
            lightness,
            hint_ab,
            hint_mask,
            params.spread_limit,
            params.fallback,
            params.temperature,
        )

    def tone_trace(self, image: torch.Tensor, params: GlobalColorizeParams) -> torch.Tensor | float:
        """``keep_tone`` of the input's own a*b* (its sepia or other tone)."""
        if params.keep_tone == 0 or image.shape[1] == 1:
            return 0.0
        return params.keep_tone * rgb_to_lab(image)[:, 1:]


def lightness_of(image: torch.Tensor) -> torch.Tensor:
    """L* (N x 1 x H x W) of a gray or RGB batch."""
    rgb = image.expand(-1, 3, -1, -1) if image.shape[1] == 1 else image
    return rgb_to_lab(rgb)[:, :1]


def recombine(image: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
    """sRGB with the L* of ``image`` (N x C x H x W) and ``chroma`` (N x 2 x h x w) upsampled.

    The upsampling is bilinear (as ``F.interpolate`` with ``align_corners=False``)
    and everything is done in strips of rows, so the extra memory is a few
    strips, whatever the image size.
    """
    n, _, height, width = image.shape
    out = image.new_empty(n, 3, height, width)
    rows = max(1, STRIP_PIXELS // width)
    columns = (torch.arange(width, device=image.device, dtype=torch.float32) + 0.5) / width * 2 - 1
    chroma = chroma.to(image)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        lines = torch.arange(top, bottom, device=image.device, dtype=torch.float32)
        lines = (lines + 0.5) / height * 2 - 1
        grid = torch.stack(torch.meshgrid(lines, columns, indexing="ij")[::-1], -1)
        ab = F.grid_sample(
            chroma,
            grid.expand(n, -1, -1, -1),
            mode="bilinear",
            padding_mode="border",
            align_corners=False,
        )
        lightness = lightness_of(image[:, :, top:bottom])
        out[:, :, top:bottom] = lab_to_rgb_in_gamut(torch.cat([lightness, ab], 1))
    return out
