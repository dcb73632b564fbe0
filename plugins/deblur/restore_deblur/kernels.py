"""Blur kernels (point-spread functions) and the parameters that describe them.

Every kernel is square, of odd size at most ``MAX_SIZE`` px, and sums to 1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, Literal, TypeVar

import numpy as np
import torch
from pydantic import Field
from restore.api import Stage, StageParams, TilePolicy, Tiling, per_image
from restore.api.kernels import disk_kernel, gaussian_kernel, motion_kernel

MAX_SIZE = 31  # the deblur stages' tiling halo (32) covers kernels up to this size
PAD = 32  # mirror padding (> MAX_SIZE) around each channel before deconvolution


class KernelParams(StageParams):
    """The blur kernel a deconvolution stage inverts."""

    kernel: Literal["gaussian", "motion", "disk"] = Field(
        "gaussian", description="Blur shape: gaussian (defocus/optics), motion (line), disk."
    )
    sigma: float = Field(1.5, ge=0.3, le=5.0, description="Gaussian std in pixels.")
    length: int = Field(9, ge=1, le=MAX_SIZE, description="Motion blur length in pixels.")
    angle: float = Field(0.0, ge=-180, le=180, description="Motion direction in degrees (CCW).")
    radius: float = Field(3.0, ge=0.5, le=MAX_SIZE // 2, description="Disk radius in pixels.")


def make_kernel(params: KernelParams) -> np.ndarray:
    """The normalised kernel ``params`` describe (the kernels the degradations blur with)."""
    if params.kernel == "gaussian":
        return gaussian_kernel(params.sigma)
    if params.kernel == "motion":
        return motion_kernel(params.length, params.angle)
    return disk_kernel(params.radius)


def deconvolve_channels(
    image: np.ndarray, deconvolve: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Run a single-channel ``deconvolve`` on each channel of an H x W x C image.

    Each channel is mirror-padded by ``PAD`` px first, so the FFT's wrap-around
    (and the convolution's zero border) lies far from the image and does not ring
    into it; the result is cropped back and clipped to [0, 1].
    """
    out = np.empty(image.shape, np.float32)
    for c in range(image.shape[2]):
        padded = np.pad(image[..., c], PAD, mode="symmetric")
        out[..., c] = deconvolve(padded)[PAD:-PAD, PAD:-PAD]
    return np.clip(out, 0, 1)


K = TypeVar("K", bound=KernelParams)


class Deconvolution(Stage[K], Generic[K]):
    """Base of the deconvolution stages: per-channel ``deconvolve`` with the params' kernel."""

    tiling = Tiling(policy=TilePolicy.TILE, halo=32)  # kernels are at most 31 px

    def deconvolve(self, channel: np.ndarray, kernel: np.ndarray, params: K) -> np.ndarray:
        """Deconvolve one padded H x W channel."""
        raise NotImplementedError

    def process(self, inputs: Mapping[str, torch.Tensor], params: K) -> dict[str, torch.Tensor]:
        """Deconvolve each image of the batch."""
        kernel = make_kernel(params).astype(np.float32)

        def deblur(image: np.ndarray) -> np.ndarray:
            return deconvolve_channels(image, lambda x: self.deconvolve(x, kernel, params))

        return {"image": per_image(deblur, inputs["image"])}
