"""The JPEG artifact remover: honest halo, exact tiles, weights, training and the
double-compression degradation it trains on (strength: ``tests/api/test_learned_stages.py``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from restore.app.registry import Registry
from restore.engine.tiling import TileOptions, run_stage
from restore.io.images import write_image
from restore.lab.degrade import Jpeg
from restore.lab.training import train, training_recipes
from restore.testing import measured_receptive_radius, synthetic_photo
from torch import nn

import restore_dejpeg
from restore_dejpeg import network, recipes
from restore_dejpeg.learned import LearnedDejpeg, LearnedDejpegParams

CPU = torch.device("cpu")
NARROW = network.DejpegConfig(width=8)  # the width does not change the reach


class RandomDejpeg(LearnedDejpeg):
    """The stage with a seeded random network instead of the shipped weights."""

    def network(self, weights: Path | None) -> nn.Module:
        torch.manual_seed(0)
        return network.SPEC.build(NARROW).eval()


def test_registers_the_stage_and_its_recipe() -> None:
    registry = Registry.from_plugins(restore_dejpeg)
    assert "dejpeg.cnn" in registry.stages
    (recipe,) = training_recipes(registry).values()
    assert recipe.name == recipe.stage == "dejpeg.cnn" and recipe.network is network.SPEC
    assert recipe.predict is network.restored and recipe.gpu_scale > 1


def test_declared_halo_is_the_measured_receptive_field() -> None:
    spec = network.SPEC
    measured = measured_receptive_radius(spec.build(NARROW), 3, 160, spec.multiple)
    assert LearnedDejpeg.tiling.halo == spec.halo(network.DejpegConfig())
    assert measured <= LearnedDejpeg.tiling.halo < measured + spec.multiple


@pytest.mark.parametrize("channels", [1, 3])
def test_tiles_are_exact(channels: int, tiling_exactness) -> None:
    image = synthetic_photo(150, 170, seed=channels)[..., :channels]
    tiling_exactness(RandomDejpeg, image, tile=96)


def test_training_runs_two_steps_and_the_stage_runs_the_result(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for seed in range(6):
        write_image(folder / f"{seed}.png", synthetic_photo(48, 56, seed=seed))
    (recipe,) = recipes.RECIPES
    small = dataclasses.replace(recipe, config=NARROW, patch=32, batch=2, holdout=50)
    out = tmp_path / "dejpeg.safetensors"
    manifest = train(small, out, data_root=tmp_path, folders=[folder], steps=2, evaluations=1)
    assert manifest.stage == "dejpeg.cnn" and manifest.training.recipe == "jpeg-blind-double"
    params = LearnedDejpegParams(weights=out)
    assert LearnedDejpeg.check(params) == []
    image = synthetic_photo(40, 44, seed=9)
    cleaned = run_stage(LearnedDejpeg(CPU), {"image": image}, params, TileOptions())["image"]
    assert cleaned.shape == image.shape and 0 <= cleaned.min() <= cleaned.max() <= 1


def blockiness(image: np.ndarray, phase: tuple[int, int]) -> float:
    """Mean jump across the edges of 8 x 8 blocks whose grid is moved by ``phase`` (down,
    right), over the mean jump anywhere."""
    rows = np.abs(np.diff(image, axis=0)).mean(axis=(1, 2))
    cols = np.abs(np.diff(image, axis=1)).mean(axis=(0, 2))
    on_rows = np.arange(len(rows)) % 8 == (7 - phase[0]) % 8
    on_cols = np.arange(len(cols)) % 8 == (7 - phase[1]) % 8
    return float((rows[on_rows].mean() + cols[on_cols].mean()) / (rows.mean() + cols.mean()))


def test_a_moved_grid_puts_the_second_compressions_blocks_elsewhere() -> None:
    image = synthetic_photo(128, 128, seed=3)
    rng, mask = np.random.default_rng(0), np.zeros((128, 128), np.float32)
    plain, _, info = Jpeg(quality=10).run(image, mask, rng)
    assert info["grid_shift"] == (0, 0) and blockiness(plain, (0, 0)) > 1.5
    moved, _, info = Jpeg(quality=10, grid_shift=3).run(image, mask, rng)
    assert info["grid_shift"] == (3, 3) and moved.shape == image.shape
    assert blockiness(moved, (3, 3)) > 1.5 > blockiness(moved, (0, 0))


def test_a_step_with_probability_zero_leaves_the_image_alone() -> None:
    image = synthetic_photo(32, 32, seed=1)
    out, _, info = Jpeg(quality=10, probability=0).run(
        image, np.zeros((32, 32), np.float32), np.random.default_rng(0)
    )
    assert out is image and info == {"quality": None}
