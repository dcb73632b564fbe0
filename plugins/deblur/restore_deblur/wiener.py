"""``deblur.wiener``: Wiener deconvolution with a known blur kernel."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from pydantic import Field
from restore import Stage, StageParams, TilePolicy, Tiling
from restore.stage import per_image
from skimage.restoration import wiener

from restore_deblur.kernels import KernelParams, deconvolve_channels, make_kernel


class WienerParams(KernelParams):
    """Parameters of ``deblur.wiener``."""

    balance: float = Field(
        0.01, gt=0, le=10, description="Noise-to-signal regulariser: larger is smoother."
    )


class Wiener(Stage):
    """Wiener deconvolution (scikit-image, Laplacian regulariser), per channel."""

    name = "deblur.wiener"
    summary = (
        "Wiener deconvolution of a known gaussian, motion or disk blur (scikit-image), "
        "per channel in floating point. Kernels are at most 31 px, within the 32 px halo; "
        "a larger blur would need WHOLE tiling."
    )
    Params = WienerParams
    tiling = Tiling(policy=TilePolicy.TILE, halo=32)

    def process(
        self, inputs: Mapping[str, torch.Tensor], params: StageParams
    ) -> dict[str, torch.Tensor]:
        """Deconvolve each image of the batch."""
        assert isinstance(params, WienerParams)
        kernel = make_kernel(params)

        def deblur(image: np.ndarray) -> np.ndarray:
            return deconvolve_channels(
                image, lambda x: wiener(x, kernel, params.balance, clip=False)
            )

        return {"image": per_image(deblur, inputs["image"])}
