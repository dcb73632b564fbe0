"""The learned denoisers: honest halos, shipped weights that verify and clearly denoise."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from restore.api import StageUnavailable
from restore.api.weights import load_weights
from restore.engine.tiling import TileOptions, run_stage
from restore.lab.degrade import load_recipe
from restore.lab.metrics import psnr
from restore.testing import synthetic_photo
from skimage import data
from torch import nn

import restore_denoise.learned as learned
from restore_denoise.learned import DnCNNDenoise, LearnedDenoiseParams, MWCNNDenoise
from restore_denoise.networks import haar_forward, haar_inverse

CPU = torch.device("cpu")
STAGES = [DnCNNDenoise, MWCNNDenoise]


def random_weights(stage: type[learned.LearnedDenoiser]) -> type[learned.LearnedDenoiser]:
    """The stage with seeded random networks instead of the shipped weights."""
    recipe_config = {DnCNNDenoise: {"width": 16, "blocks": 7}, MWCNNDenoise: {"widths": (8, 8, 8)}}

    class Random(stage):
        def network(self, channels: int) -> nn.Module:
            torch.manual_seed(channels)
            return type(self).build(channels=channels, **recipe_config[stage]).eval()

    return Random


def noisy_pair(channels: int, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """A crop of a natural photo shipped with scikit-image, with sigma-25 noise."""
    photo = data.astronaut() if channels == 3 else data.camera()[..., None]
    clean = photo[120 : 120 + size, 180 : 180 + size].astype(np.float32) / 255
    return load_recipe("noise-25").apply(clean, 0).image, clean


def test_haar_transform_is_invertible() -> None:
    x = torch.rand(2, 3, 8, 12)
    torch.testing.assert_close(haar_inverse(haar_forward(x)), x)
    assert haar_forward(x).pow(2).sum() == pytest.approx(float(x.pow(2).sum()), rel=1e-5)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("channels", [1, 3])
def test_halo_covers_the_receptive_field(stage, channels, tiling_exactness) -> None:
    image = synthetic_photo(600, 640, seed=1)[..., :channels]
    tiling_exactness(random_weights(stage), image, tile=160)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("channels", [1, 3])
def test_shipped_weights_denoise_clearly(stage, channels) -> None:
    noisy, clean = noisy_pair(channels)
    restored = run_stage(stage(CPU), {"image": noisy}, LearnedDenoiseParams(), TileOptions())
    gain = psnr(restored["image"], clean) - psnr(noisy, clean)
    assert gain > 6, f"{stage.name} gained only {gain:.2f} dB"


@pytest.mark.parametrize("stage", STAGES)
def test_shipped_weights_verify_and_match_their_stage(stage) -> None:
    for channels, stem in stage.weights.items():
        _, manifest = load_weights(
            learned.WEIGHTS.joinpath(f"{stem}.safetensors"),
            expect_stage=stage.name,
            expect_architecture=stage.architecture,
        )
        assert manifest.config["channels"] == channels
        assert manifest.training.command.startswith(f"restore train {stage.name}-")
        assert (Path(str(learned.WEIGHTS)) / f"{stem}.md").is_file()  # its model card


def test_strength_zero_is_identity() -> None:
    noisy, _ = noisy_pair(3, size=32)
    out = run_stage(
        DnCNNDenoise(CPU), {"image": noisy}, LearnedDenoiseParams(strength=0), TileOptions()
    )
    np.testing.assert_allclose(out["image"], noisy, atol=1e-6)


def test_corrupt_weights_make_the_stage_unavailable(tmp_path: Path, monkeypatch) -> None:
    source = Path(str(learned.WEIGHTS))
    for name in ("dncnn-gray.safetensors", "dncnn-gray.json"):
        shutil.copy(source / name, tmp_path / name)
    data = bytearray((tmp_path / "dncnn-gray.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "dncnn-gray.safetensors").write_bytes(bytes(data))
    monkeypatch.setattr(learned, "WEIGHTS", tmp_path)
    with pytest.raises(StageUnavailable, match="SHA-256 mismatch"):
        DnCNNDenoise(CPU).network(1)
