"""``inpaint.damage_mask``: find dust, dirt and scratches with morphological top-hats."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Literal

import cv2
import numpy as np
import torch
from pydantic import Field
from restore.api import Port, PortKind, Stage, StageParams, TilePolicy, Tiling, per_image

LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # Rec. 601
MAX_SIZE, MAX_DILATE = 13, 7
# Context a mask pixel depends on: the top-hat (2 * (size // 2)), the texture
# average (size) and the dilation; component filtering may reach further.
HALO = 2 * (MAX_SIZE // 2) + MAX_SIZE + MAX_DILATE


class DamageMaskParams(StageParams):
    """Parameters of ``inpaint.damage_mask``."""

    size: int = Field(
        9, ge=3, le=MAX_SIZE, description="Width in pixels of the widest defect found."
    )
    threshold: float = Field(
        0.12, gt=0, le=1, description="Contrast (in [0, 1] units) a defect must stand out by."
    )
    texture: float = Field(
        1.0,
        ge=0,
        le=5,
        description="Raise the threshold in busy areas by this multiple of the local mean "
        "contrast (0: a fixed threshold).",
    )
    min_area: int = Field(
        0, ge=0, le=1000, description="Defects smaller than this many pixels are ignored."
    )
    dilate: int = Field(2, ge=0, le=MAX_DILATE, description="Grow the mask by this many pixels.")
    detect: Literal["both", "bright", "dark"] = Field(
        "both", description="Find bright specks and scratches, dark ones, or both."
    )


class DamageMask(Stage[DamageMaskParams]):
    """Damage detector: top-hat filtering of the luma, thresholded and dilated."""

    name = "inpaint.damage_mask"
    summary = (
        "Marks small bright and/or dark defects (dust, dirt, scratches narrower than `size`) "
        "by white/black morphological top-hats of the luma, thresholded above the local "
        "texture level, then dilated; float32, outputs a mask."
    )
    outputs: ClassVar[Mapping[str, Port]] = {"mask": Port(PortKind.MASK)}
    tiling = Tiling(policy=TilePolicy.TILE, halo=HALO)

    def process(
        self, inputs: Mapping[str, torch.Tensor], params: DamageMaskParams
    ) -> dict[str, torch.Tensor]:
        """Compute the damage mask of each image of the batch (1.0 = damaged)."""
        return {"mask": per_image(lambda image: damage_mask(image, params), inputs["image"])}


def damage_mask(image: np.ndarray, params: DamageMaskParams) -> np.ndarray:
    """The H x W float32 damage mask of an H x W x C image."""
    luma = np.ascontiguousarray(image @ LUMA if image.shape[2] == 3 else image[..., 0])
    element = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (params.size, params.size))
    contrast: np.ndarray = np.zeros(luma.shape, np.float32)
    if params.detect in ("both", "bright"):
        contrast = cv2.morphologyEx(luma, cv2.MORPH_TOPHAT, element)
    if params.detect in ("both", "dark"):
        contrast = np.maximum(contrast, cv2.morphologyEx(luma, cv2.MORPH_BLACKHAT, element))
    window = 2 * params.size + 1
    busy = cv2.blur(contrast, (window, window))
    mask: np.ndarray = (contrast > params.threshold + params.texture * busy).astype(np.uint8)
    if params.min_area > 1:
        _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        keep = stats[:, cv2.CC_STAT_AREA] >= params.min_area
        keep[0] = False  # the background
        mask = keep[labels].astype(np.uint8)
    if params.dilate:
        grow = 2 * params.dilate + 1
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow, grow)))
    return mask.astype(np.float32)
