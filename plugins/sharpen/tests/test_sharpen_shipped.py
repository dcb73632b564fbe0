"""The shipped sharpener: weights that verify, and a quick check on softened photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from restore.api.weights import load_weights
from restore.engine.tiling import TileOptions, run_stage
from restore.lab.degrade import GaussianBlur, Jpeg, Recipe
from restore.lab.metrics import psnr
from skimage import data

from restore_sharpen import cnn
from restore_sharpen.learned import LearnedSharpen, LearnedSharpenParams

CPU = torch.device("cpu")
SOFTNESS = Recipe(steps=[GaussianBlur(sigma=1.0), Jpeg(quality=90)])
MIN_GAIN_DB = 2.0  # measured: gray 3.9 and 4.8 dB, rgb 3.2 and 3.2 dB at strength 0.5 and 1


def photo(kind: str, size: int = 192) -> np.ndarray:
    image = data.astronaut() if kind == "rgb" else np.repeat(data.camera()[..., None], 3, 2)
    return image[40 : 40 + size, 140 : 140 + size].astype(np.float32) / 255


def test_shipped_weights_verify_and_match_the_stage() -> None:
    path = Path(str(LearnedSharpen.weights_folder)) / f"{LearnedSharpen.shipped}.safetensors"
    _, manifest = load_weights(
        path, expect_stage=LearnedSharpen.name, expect_architecture=cnn.ARCHITECTURE
    )
    assert cnn.SPEC.parse(manifest.config) == cnn.SharpenCNNConfig()
    assert manifest.training.command.startswith(f"restore train {LearnedSharpen.name} ")
    assert path.with_suffix(".md").is_file()


@pytest.mark.parametrize("kind", ["gray", "rgb"])
def test_shipped_sharpener_restores_edges_at_half_and_full_strength(kind: str) -> None:
    clean = photo(kind)
    soft = SOFTNESS.apply(clean, 0).image
    outputs = [
        run_stage(
            LearnedSharpen(CPU),
            {"image": soft},
            LearnedSharpenParams(strength=strength),
            TileOptions(),
        )["image"]
        for strength in (0.5, 1.0)
    ]
    for out in outputs:
        assert psnr(out, clean) - psnr(soft, clean) > MIN_GAIN_DB
    inside = (outputs[1] > 0.01) & (outputs[1] < 0.99)  # not clipped
    np.testing.assert_allclose(
        (outputs[0] - soft)[inside], 0.5 * (outputs[1] - soft)[inside], atol=2e-3
    )


def test_strength_zero_is_exactly_the_input() -> None:
    soft = SOFTNESS.apply(photo("rgb", 64), 0).image
    params = LearnedSharpenParams(strength=0)
    out = run_stage(LearnedSharpen(CPU), {"image": soft}, params, TileOptions())["image"]
    assert np.array_equal(out, soft)
