"""The shipped JPEG artifact remover: weights that verify, and a quick quality check on
photos it never saw (scikit-image's), gray and colour, at low and middling quality."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from restore.api.weights import load_weights
from restore.engine.tiling import TileOptions, run_stage
from restore.lab.degrade import Jpeg
from restore.lab.metrics import psnr
from skimage import data

from restore_dejpeg import network
from restore_dejpeg.learned import LearnedDejpeg, LearnedDejpegParams

CPU = torch.device("cpu")
MIN_GAIN_DB = {10: 0.6, 30: 1.0}  # measured on these crops: q10 0.98 gray, 0.88 rgb; q30 1.57, 1.41


def photo(kind: str, size: int = 256) -> np.ndarray:
    """A crop of scikit-image's astronaut (RGB) or camera man (one-channel gray)."""
    image = data.astronaut() if kind == "rgb" else data.camera()[..., None]
    return image[100 : 100 + size, 120 : 120 + size].astype(np.float32) / 255


def test_shipped_weights_verify_and_match_the_stage() -> None:
    path = Path(str(LearnedDejpeg.weights_folder)) / f"{LearnedDejpeg.shipped}.safetensors"
    _, manifest = load_weights(
        path, expect_stage=LearnedDejpeg.name, expect_architecture=network.ARCHITECTURE
    )
    assert network.SPEC.parse(manifest.config) == network.DejpegConfig()
    assert manifest.training.command.startswith(f"restore train {LearnedDejpeg.name} ")
    assert path.with_suffix(".md").is_file()


@pytest.mark.parametrize("quality", [10, 30])
@pytest.mark.parametrize("kind", ["gray", "rgb"])
def test_shipped_network_removes_jpeg_artifacts(kind: str, quality: int) -> None:
    clean = photo(kind)
    jpeg, _, _ = Jpeg(quality=quality).run(clean, clean[..., 0], np.random.default_rng(0))
    params = LearnedDejpegParams()
    out = run_stage(LearnedDejpeg(CPU), {"image": jpeg}, params, TileOptions())["image"]
    assert out.shape == jpeg.shape
    assert psnr(out, clean) - psnr(jpeg, clean) > MIN_GAIN_DB[quality]
