"""``denoise.nlmeans``: OpenCV fast non-local means on 8-bit data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Self

import cv2
import numpy as np
import torch
from pydantic import Field, model_validator
from restore.api import Stage, StageParams, TilePolicy, Tiling, per_image

HALO = 16
# OpenCV's filter strength h per unit of noise sigma, tuned for PSNR at sigma 15 and 25
# on 128 px crops of scikit-image's sample photos: gray, and luma / chroma of colour.
H_GRAY, H_LUMA, H_CHROMA = 0.95, 0.7, 0.6
MAD_TO_SIGMA = 1 / 0.6745  # median absolute deviation of a unit Gaussian is 0.6745


def estimate_sigma(image: np.ndarray) -> float:
    """Noise std of an H x W x C image in [0, 1], in 8-bit units.

    A robust MAD estimate on the finest diagonal Haar wavelet detail (which has
    the noise's std for white noise), averaged over channels.
    """
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    x = image[:h, :w].astype(np.float64) * 255
    diagonal = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2
    return float(np.mean(np.median(np.abs(diagonal), axis=(0, 1)))) * MAD_TO_SIGMA


class NLMeansParams(StageParams):
    """Parameters of ``denoise.nlmeans``."""

    sigma: float | None = Field(
        None, ge=0, le=100, description="Noise std in 8-bit units; None estimates it per image."
    )
    strength: float = Field(
        1.0, ge=0, le=5, description="Filter strength h as a multiple of the sigma-derived value."
    )
    template_window: int = Field(7, ge=3, le=15, description="Patch size in pixels (odd).")
    search_window: int = Field(21, ge=5, le=25, description="Search area size in pixels (odd).")

    @model_validator(mode="after")
    def _check_windows(self) -> Self:
        if self.template_window % 2 == 0 or self.search_window % 2 == 0:
            raise ValueError("template_window and search_window must be odd")
        if self.template_window // 2 + self.search_window // 2 > HALO:
            raise ValueError(
                f"template_window // 2 + search_window // 2 must be <= {HALO} (the tiling halo)"
            )
        return self


class NLMeans(Stage[NLMeansParams]):
    """Non-local means denoising (OpenCV), the classical denoising baseline."""

    name = "denoise.nlmeans"
    summary = (
        "Non-local means denoising (OpenCV fastNlMeansDenoising[Colored]) with filter "
        "strength proportional to the noise sigma, given or estimated per image (per tile "
        "when tiled). Runs on 8-bit data: the output is quantised to 1/255."
    )
    tiling = Tiling(policy=TilePolicy.TILE, halo=HALO)

    def process(
        self, inputs: Mapping[str, torch.Tensor], params: NLMeansParams
    ) -> dict[str, torch.Tensor]:
        """Denoise each image of the batch."""
        return {"image": per_image(lambda image: _denoise(image, params), inputs["image"])}


def _denoise(image: np.ndarray, params: NLMeansParams) -> np.ndarray:
    sigma = estimate_sigma(image) if params.sigma is None else params.sigma
    h = params.strength * sigma
    data = np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
    windows = (params.template_window, params.search_window)
    if image.shape[2] == 3:
        out = cv2.fastNlMeansDenoisingColored(data, None, H_LUMA * h, H_CHROMA * h, *windows)
    else:
        out = cv2.fastNlMeansDenoising(data[..., 0], None, H_GRAY * h, *windows)
    return out.astype(np.float32) / 255
