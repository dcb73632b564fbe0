"""Tests of the restore-sharpen plugin."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from pydantic import ValidationError
from restore.app.registry import Registry
from restore.engine.tiling import TileOptions, run_stage
from skimage import data

import restore_sharpen
from restore_sharpen.unsharp import Unsharp, UnsharpParams

CPU = torch.device("cpu")


def sharpen(image: torch.Tensor, **params: object) -> torch.Tensor:
    return Unsharp(CPU).process({"image": image}, UnsharpParams(**params))["image"]


def photo(kind: str) -> torch.Tensor:
    """A 1 x C x 128 x 128 crop of a scikit-image sample: gray (camera) or RGB (astronaut)."""
    image = (
        data.camera()[100:228, 200:328, None] if kind == "gray" else data.astronaut()[:128, :128]
    )
    return torch.from_numpy(image / 255).float().permute(2, 0, 1)[None].contiguous()


def laplacian_energy(image: torch.Tensor) -> float:
    """Mean squared Laplacian over the channels of a 1 x C x H x W batch."""
    planes = image[0].numpy()
    return float(np.mean([np.mean(cv2.Laplacian(plane, cv2.CV_32F) ** 2) for plane in planes]))


def test_registers_through_the_plugin_hook() -> None:
    registry = Registry.from_plugins(restore_sharpen)
    assert not list(registry.broken())
    assert set(registry.stages) == {"sharpen.unsharp", "sharpen.cnn"}


def test_installed_entry_point_provides_the_stages() -> None:
    registry = Registry.from_entry_points({"RESTORE_PLUGINS": "sharpen"})
    assert [(info.name, info.error) for info in registry.plugins if not info.skipped] == [
        ("sharpen", None)
    ]
    assert set(registry.stages) == {"sharpen.unsharp", "sharpen.cnn"}


@pytest.mark.parametrize(
    "bad", [{"amount": 1}, {"strength": -0.1}, {"strength": 5.5}, {"radius": 0.2}, {"radius": 9}]
)
def test_params_reject_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        UnsharpParams(**bad)


@pytest.mark.parametrize("shape", [(1, 1, 40, 50), (2, 3, 40, 50)])
def test_keeps_shape_and_range(shape: tuple[int, ...]) -> None:
    image = torch.rand(shape)
    out = sharpen(image)
    assert out.shape == shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("kind", ["gray", "rgb"])
def test_strength_zero_is_identity(kind: str) -> None:
    image = photo(kind)
    assert torch.equal(sharpen(image, strength=0), image)


@pytest.mark.parametrize("kind", ["gray", "rgb"])
def test_sharpening_increases_laplacian_energy(kind: str) -> None:
    image = photo(kind)
    energies = [laplacian_energy(sharpen(image, strength=s)) for s in (0, 0.5, 1.5)]
    assert energies[0] * 1.2 < energies[1] < energies[2]


def test_overshoot_is_clipped() -> None:
    step = torch.full((1, 1, 32, 32), 0.1)
    step[..., 16:] = 0.9
    out = sharpen(step, strength=5, radius=2)
    assert out.min() == 0 and out.max() == 1


def test_threshold_leaves_small_detail_alone() -> None:
    image = photo("gray")
    noise = torch.randn(image.shape, generator=torch.Generator().manual_seed(0))
    texture = (image + 0.01 * noise).clamp(0, 1)
    plain, gated = sharpen(texture, radius=0.5), sharpen(texture, radius=0.5, threshold=0.05)
    detail = texture - torch.from_numpy(cv2.GaussianBlur(texture[0, 0].numpy(), (5, 5), 0.5))
    small = detail.abs() < 0.05
    assert torch.equal(gated[small], texture[small])
    assert not torch.equal(plain[small], texture[small])
    assert torch.equal(gated[~small], plain[~small])


def test_tiled_run_matches_the_whole_image() -> None:
    image = photo("rgb")[0].permute(1, 2, 0).numpy()
    stage, params = Unsharp(CPU), UnsharpParams(radius=8.0)  # the largest blur
    whole = run_stage(stage, {"image": image}, params, TileOptions(tile=0))["image"]
    tiled = run_stage(stage, {"image": image}, params, TileOptions(tile=64))["image"]
    np.testing.assert_allclose(tiled, whole, atol=1e-6)
