"""Tests of the restore-denoise plugin."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from restore.app.registry import Registry
from restore.engine.tiling import TileOptions, run_stage
from skimage import data
from skimage.metrics import peak_signal_noise_ratio

import restore_denoise
from restore_denoise.nlmeans import NLMeans, NLMeansParams, estimate_sigma

CPU = torch.device("cpu")


def batch(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].float()


def unbatch(tensor: torch.Tensor) -> np.ndarray:
    return tensor[0].permute(1, 2, 0).numpy()


def crop(name: str) -> np.ndarray:
    """A 128 x 128 float32 crop of a scikit-image sample: gray (camera) or RGB (coffee)."""
    if name == "gray":
        return (data.camera()[100:228, 200:328, None] / 255).astype(np.float32)
    return (data.coffee()[100:228, 200:328] / 255).astype(np.float32)


def noisy(image: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    """Add Gaussian noise of std ``sigma`` in 8-bit units, clipped to [0, 1]."""
    noise = np.random.default_rng(seed).normal(0, sigma / 255, image.shape)
    return np.clip(image + noise, 0, 1).astype(np.float32)


def psnr(reference: np.ndarray, image: np.ndarray) -> float:
    return peak_signal_noise_ratio(reference, image, data_range=1.0)


def denoise(image: np.ndarray, **params: object) -> np.ndarray:
    out = NLMeans(CPU).process({"image": batch(image)}, NLMeansParams(**params))
    return unbatch(out["image"])


def test_registers_through_the_plugin_hook() -> None:
    registry = Registry.from_plugins(restore_denoise)
    assert not list(registry.broken())
    assert set(registry.stages) == {"denoise.nlmeans", "denoise.dncnn", "denoise.mwcnn"}


def test_installed_entry_point_provides_the_stages() -> None:
    registry = Registry.from_entry_points({"RESTORE_PLUGINS": "denoise"})
    assert [(info.name, info.error) for info in registry.plugins if not info.skipped] == [
        ("denoise", None)
    ]
    assert set(registry.stages) == {"denoise.nlmeans", "denoise.dncnn", "denoise.mwcnn"}


@pytest.mark.parametrize(
    "bad",
    [
        {"radius": 3},
        {"sigma": -1},
        {"strength": 6},
        {"template_window": 8},
        {"search_window": 1},
        {"template_window": 13, "search_window": 25},  # 6 + 12 > the 16 px halo
    ],
)
def test_params_reject_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        NLMeansParams(**bad)


@pytest.mark.parametrize("shape", [(1, 1, 40, 50), (2, 3, 40, 50)])
def test_keeps_shape_and_range(shape: tuple[int, ...]) -> None:
    image = torch.rand(shape)
    out = NLMeans(CPU).process({"image": image}, NLMeansParams(sigma=20))["image"]
    assert out.shape == shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert not torch.equal(out, image)


@pytest.mark.parametrize("kind", ["gray", "rgb"])
@pytest.mark.parametrize("sigma", [25.0, None])
def test_gains_4db_at_sigma_25(kind: str, sigma: float | None) -> None:
    clean = crop(kind)
    degraded = noisy(clean, 25)
    gain = psnr(clean, denoise(degraded, sigma=sigma)) - psnr(clean, degraded)
    assert gain >= 4.0, f"PSNR gain {gain:.2f} dB"


@pytest.mark.parametrize("kind", ["gray", "rgb"])
@pytest.mark.parametrize("sigma", [10.0, 25.0])
def test_estimates_sigma_within_30_percent(kind: str, sigma: float) -> None:
    estimate = estimate_sigma(noisy(crop(kind), sigma))
    assert abs(estimate - sigma) <= 0.3 * sigma, f"estimated {estimate:.1f} for {sigma}"


@pytest.mark.parametrize("kind", ["gray", "rgb"])
def test_tiled_run_matches_the_whole_image(kind: str) -> None:
    image, stage, params = noisy(crop(kind), 20), NLMeans(CPU), NLMeansParams(sigma=20)
    whole = run_stage(stage, {"image": image}, params, TileOptions(tile=0))["image"]
    tiled = run_stage(stage, {"image": image}, params, TileOptions(tile=48))["image"]
    np.testing.assert_allclose(tiled, whole, atol=1e-6)  # blending rounds
