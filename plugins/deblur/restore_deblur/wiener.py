"""``deblur.wiener``: Wiener deconvolution with a known blur kernel."""

from __future__ import annotations

import numpy as np
from pydantic import Field
from skimage.restoration import wiener

from restore_deblur.kernels import Deconvolution, KernelParams


class WienerParams(KernelParams):
    """Parameters of ``deblur.wiener``."""

    balance: float = Field(
        0.01, gt=0, le=10, description="Noise-to-signal regulariser: larger is smoother."
    )


class Wiener(Deconvolution[WienerParams]):
    """Wiener deconvolution (scikit-image, Laplacian regulariser), per channel."""

    name = "deblur.wiener"
    summary = (
        "Wiener deconvolution of a known gaussian, motion or disk blur (scikit-image), "
        "per channel in floating point. Kernels are at most 31 px, within the 32 px halo; "
        "a larger blur would need WHOLE tiling."
    )

    def deconvolve(
        self, channel: np.ndarray, kernel: np.ndarray, params: WienerParams
    ) -> np.ndarray:
        """Wiener-deconvolve one channel."""
        return wiener(channel, kernel, params.balance, clip=False)
