"""The shipped blind deblurrer: weights that verify, and a quick check of its quality on
small blurred photos (scikit-image crops, seeded kernels of each family, mild noise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from restore.api.kernels import disk_kernel, gaussian_kernel, motion_kernel
from restore.api.weights import load_weights
from restore.engine.tiling import TileOptions, run_stage
from restore.lab.metrics import psnr
from skimage import data

from restore_deblur import learned, unet
from restore_deblur.learned import LearnedDeblur, LearnedDeblurParams
from restore_deblur.recipes import blur
from restore_deblur.wiener import Wiener, WienerParams

CPU = torch.device("cpu")
# Measured gains on these crops: Gaussian 3.4 (gray) and 1.7 dB (rgb), defocus 2.1 and
# 2.4 dB, motion only 0.1 and 0.3 dB (blind motion deblurring is this network's weak point).
MIN_GAIN_DB = {"gaussian": 1.0, "defocus": 1.0, "motion": 0.05}
KERNELS = {
    "gaussian": gaussian_kernel(2.0),
    "defocus": disk_kernel(4.0),
    "motion": motion_kernel(15.0, 30.0),
}


def photo(kind: str, size: int = 192) -> np.ndarray:
    """A crop of a scikit-image photo, in [0, 1]."""
    image = data.astronaut() if kind == "rgb" else np.repeat(data.camera()[..., None], 3, 2)
    return image[40 : 40 + size, 140 : 140 + size].astype(np.float32) / 255


def blurred(clean: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    noise = np.random.default_rng(0).normal(0, 2 / 255, clean.shape).astype(np.float32)
    return np.clip(blur(clean, kernel) + noise, 0, 1)


def test_shipped_blind_weights_verify_and_match_the_stage() -> None:
    path = Path(str(learned.WEIGHTS)) / f"{learned.SHIPPED[False]}.safetensors"
    _, manifest = load_weights(
        path, expect_stage=LearnedDeblur.name, expect_architecture=unet.ARCHITECTURE
    )
    assert unet.SPEC.parse(manifest.config) == unet.DeblurUNetConfig()
    assert manifest.training.command.startswith("restore train deblur.unet-blind ")
    assert path.with_suffix(".md").is_file()


@pytest.mark.parametrize("kind", ["gray", "rgb"])
@pytest.mark.parametrize("family", list(KERNELS))
def test_shipped_blind_deblurrer_beats_the_old_fixed_wiener(kind: str, family: str) -> None:
    """Of unknown blur: sharper than the input and than old-photo.yaml's former Wiener."""
    clean = photo(kind)
    soft = blurred(clean, KERNELS[family])
    restored = run_stage(LearnedDeblur(CPU), {"image": soft}, LearnedDeblurParams(), TileOptions())
    wiener = run_stage(
        Wiener(CPU),
        {"image": soft},
        WienerParams(kernel="gaussian", sigma=1.0, balance=0.05),
        TileOptions(),
    )
    gain = psnr(restored["image"], clean) - psnr(soft, clean)
    assert gain > MIN_GAIN_DB[family]
    assert psnr(restored["image"], clean) > psnr(wiener["image"], clean)
