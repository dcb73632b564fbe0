"""``deblur.richardson_lucy``: Richardson-Lucy deconvolution with a known blur kernel."""

from __future__ import annotations

import numpy as np
from pydantic import Field
from skimage.restoration import richardson_lucy

from restore_deblur.kernels import Deconvolution, KernelParams


class RichardsonLucyParams(KernelParams):
    """Parameters of ``deblur.richardson_lucy``."""

    iterations: int = Field(
        20, ge=1, le=200, description="Iterations: more recovers more detail and more noise."
    )


class RichardsonLucy(Deconvolution[RichardsonLucyParams]):
    """Richardson-Lucy deconvolution (scikit-image), per channel."""

    name = "deblur.richardson_lucy"
    summary = (
        "Richardson-Lucy deconvolution of a known gaussian, motion or disk blur "
        "(scikit-image), per channel in float32. Kernels are at most 31 px, within "
        "the 32 px halo; a larger blur would need WHOLE tiling."
    )

    def deconvolve(
        self, channel: np.ndarray, kernel: np.ndarray, params: RichardsonLucyParams
    ) -> np.ndarray:
        """Run Richardson-Lucy iterations on one channel."""
        return richardson_lucy(channel, kernel, params.iterations, clip=False)
