"""``deblur.richardson_lucy``: Richardson-Lucy deconvolution with a known blur kernel."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from pydantic import Field
from restore import Stage, StageParams, TilePolicy, Tiling
from restore.stage import per_image
from skimage.restoration import richardson_lucy

from restore_deblur.kernels import KernelParams, deconvolve_channels, make_kernel


class RichardsonLucyParams(KernelParams):
    """Parameters of ``deblur.richardson_lucy``."""

    iterations: int = Field(
        20, ge=1, le=200, description="Iterations: more recovers more detail and more noise."
    )


class RichardsonLucy(Stage):
    """Richardson-Lucy deconvolution (scikit-image), per channel."""

    name = "deblur.richardson_lucy"
    summary = (
        "Richardson-Lucy deconvolution of a known gaussian, motion or disk blur "
        "(scikit-image), per channel in float32. Kernels are at most 31 px, within "
        "the 32 px halo; a larger blur would need WHOLE tiling."
    )
    Params = RichardsonLucyParams
    tiling = Tiling(policy=TilePolicy.TILE, halo=32)

    def process(
        self, inputs: Mapping[str, torch.Tensor], params: StageParams
    ) -> dict[str, torch.Tensor]:
        """Deconvolve each image of the batch."""
        assert isinstance(params, RichardsonLucyParams)
        kernel = make_kernel(params).astype(np.float32)

        def deblur(image: np.ndarray) -> np.ndarray:
            return deconvolve_channels(
                image, lambda x: richardson_lucy(x, kernel, params.iterations, clip=False)
            )

        return {"image": per_image(deblur, inputs["image"])}
