"""``sharpen.unsharp``: unsharp masking in float32."""

from __future__ import annotations

import math
from collections.abc import Mapping

import cv2
import numpy as np
import torch
from pydantic import Field
from restore.api import Stage, StageParams, TilePolicy, Tiling, per_image

MAX_RADIUS = 8.0  # the blur is truncated at 3 sigma: 24 px, the tiling halo


class UnsharpParams(StageParams):
    """Parameters of ``sharpen.unsharp``."""

    strength: float = Field(0.8, ge=0, le=5, description="Amount of detail added; 0 is identity.")
    radius: float = Field(
        1.5, ge=0.3, le=MAX_RADIUS, description="Std in pixels of the Gaussian blur."
    )
    threshold: float = Field(
        0.0, ge=0, le=1, description="Detail smaller than this (in [0, 1] units) is left alone."
    )


class Unsharp(Stage[UnsharpParams]):
    """Unsharp mask: ``x + strength * (x - blur(x))``, clipped to [0, 1]."""

    name = "sharpen.unsharp"
    summary = (
        "Unsharp mask: adds strength * (image - Gaussian blur), ignoring detail below "
        "threshold; float32 throughout, clipped to [0, 1]."
    )
    tiling = Tiling(policy=TilePolicy.TILE, halo=math.ceil(3 * MAX_RADIUS))

    def process(
        self, inputs: Mapping[str, torch.Tensor], params: UnsharpParams
    ) -> dict[str, torch.Tensor]:
        """Sharpen each image of the batch."""
        return {"image": per_image(lambda image: _sharpen(image, params), inputs["image"])}


def _sharpen(image: np.ndarray, params: UnsharpParams) -> np.ndarray:
    size = 2 * math.ceil(3 * params.radius) + 1
    blurred = cv2.GaussianBlur(image, (size, size), params.radius).reshape(image.shape)
    detail = image - blurred
    detail[np.abs(detail) < params.threshold] = 0
    return np.clip(image + params.strength * detail, 0, 1)
