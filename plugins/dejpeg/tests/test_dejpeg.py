"""The JPEG artifact removers (blind, and steered by a quality: estimated or given):
honest halo, exact tiles, weights, training and the double-compression degradation
they train on (strength: ``tests/api/test_learned_stages.py``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from restore.api.weights import load_weights
from restore.app.registry import Registry
from restore.engine.tiling import TileOptions, run_stage
from restore.io.images import write_image
from restore.lab.degrade import Degraded, Jpeg
from restore.lab.training import train, training_recipes
from restore.testing import measured_receptive_radius, synthetic_photo
from torch import nn

import restore_dejpeg
from restore_dejpeg import flexible, network, recipes
from restore_dejpeg.learned import (
    FlexibleDejpeg,
    FlexibleDejpegParams,
    LearnedDejpeg,
    LearnedDejpegParams,
)

CPU = torch.device("cpu")
NARROW = network.DejpegConfig(width=8)  # the width does not change the reach
FLEXIBLE_NARROW = flexible.FlexibleConfig(width=8, estimator_width=16)


class RandomDejpeg(LearnedDejpeg):
    """The stage with a seeded random network instead of the shipped weights."""

    def network(self, weights: Path | None) -> nn.Module:
        torch.manual_seed(0)
        return network.SPEC.build(NARROW).eval()


class RandomFlexible(FlexibleDejpeg):
    """The quality-steered stage with a seeded random network."""

    def network(self, weights: Path | None) -> nn.Module:
        torch.manual_seed(0)
        return flexible.SPEC.build(FLEXIBLE_NARROW).eval()


def test_registers_the_stages_and_their_recipes() -> None:
    registry = Registry.from_plugins(restore_dejpeg)
    assert {"dejpeg.cnn", "dejpeg.flexible"} <= set(registry.stages)
    found = training_recipes(registry)
    blind, steered = found["dejpeg.cnn"], found["dejpeg.flexible"]
    assert blind.stage == "dejpeg.cnn" and blind.network is network.SPEC
    assert blind.predict is network.restored and blind.gpu_scale > 1
    assert steered.stage == "dejpeg.flexible" and steered.network is flexible.SPEC
    assert steered.condition is recipes.compressed_quality


def test_declared_halo_is_the_measured_receptive_field() -> None:
    spec = network.SPEC
    measured = measured_receptive_radius(spec.build(NARROW), 3, 160, spec.multiple)
    assert LearnedDejpeg.tiling.halo == spec.halo(network.DejpegConfig())
    assert measured <= LearnedDejpeg.tiling.halo < measured + spec.multiple


def test_the_flexible_networks_declared_halo_is_its_measured_receptive_field() -> None:
    spec = flexible.SPEC
    measured = measured_receptive_radius(spec.build(FLEXIBLE_NARROW), 3, 200, spec.multiple)
    assert FlexibleDejpeg.tiling.halo == spec.halo(flexible.FlexibleConfig())
    assert measured <= FlexibleDejpeg.tiling.halo < measured + spec.multiple


@pytest.mark.parametrize("channels", [1, 3])
def test_tiles_are_exact(channels: int, tiling_exactness) -> None:
    image = synthetic_photo(150, 170, seed=channels)[..., :channels]
    tiling_exactness(RandomDejpeg, image, tile=96)


@pytest.mark.parametrize("quality", [None, 20])
def test_the_flexible_stages_tiles_are_exact(quality: int | None, tiling_exactness) -> None:
    image = synthetic_photo(150, 170, seed=4)
    tiling_exactness(RandomFlexible, image, tile=128, params=FlexibleDejpegParams(quality=quality))


def test_a_given_quality_overrides_the_estimate() -> None:
    stage, image = RandomFlexible(CPU), synthetic_photo(64, 72, seed=5)

    def run(**values) -> np.ndarray:
        params = FlexibleDejpegParams(**values)
        return run_stage(stage, {"image": image}, params, TileOptions())["image"]

    low, high, blind = run(quality=10), run(quality=90), run()
    assert np.abs(low - high).max() > 1e-3 and np.abs(blind - low).max() > 1e-3
    model = stage.network(None)
    x = torch.from_numpy(image).permute(2, 0, 1)[None]
    with torch.inference_mode():
        at_estimate = x + model.correct(x, model.estimate(x))
        at_10 = x + model.correct(x, flexible.quality_map(x, 10))
    np.testing.assert_allclose(blind, at_estimate[0].permute(1, 2, 0).clamp(0, 1), atol=1e-5)
    np.testing.assert_allclose(low, at_10[0].permute(1, 2, 0).clamp(0, 1), atol=1e-5)
    assert np.array_equal(run(quality=30, strength=0), image)
    with pytest.raises(ValidationError):
        FlexibleDejpegParams(quality=0)


def test_the_quality_a_patch_is_conditioned_on_is_its_lowest_jpeg_quality() -> None:
    degraded = Degraded(
        np.zeros((4, 4, 3), np.float32),
        np.zeros((4, 4), np.float32),
        [{"kind": "jpeg", "quality": 70}, {"kind": "jpeg", "quality": 25}],
    )
    assert recipes.compressed_quality(degraded) == 0.25
    skipped = [{"kind": "jpeg", "quality": 60}, {"kind": "jpeg", "quality": None}]
    assert recipes.compressed_quality(dataclasses.replace(degraded, steps=skipped)) == 0.6
    assert recipes.compressed_quality(dataclasses.replace(degraded, steps=[])) == 1.0


def test_training_runs_two_steps_and_the_stage_runs_the_result(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for seed in range(6):
        write_image(folder / f"{seed}.png", synthetic_photo(48, 56, seed=seed))
    recipe = recipes.RECIPES[0]
    small = dataclasses.replace(recipe, config=NARROW, patch=32, batch=2, holdout=50)
    out = tmp_path / "dejpeg.safetensors"
    manifest = train(small, out, data_root=tmp_path, folders=[folder], steps=2, evaluations=1)
    assert manifest.stage == "dejpeg.cnn" and manifest.training.recipe == "jpeg-blind-double"
    params = LearnedDejpegParams(weights=out)
    assert LearnedDejpeg.check(params) == []
    image = synthetic_photo(40, 44, seed=9)
    cleaned = run_stage(LearnedDejpeg(CPU), {"image": image}, params, TileOptions())["image"]
    assert cleaned.shape == image.shape and 0 <= cleaned.min() <= cleaned.max() <= 1


def test_the_flexible_recipe_trains_both_parts_and_the_stage_runs_the_result(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "photos"
    for seed in range(6):
        write_image(folder / f"{seed}.png", synthetic_photo(48, 56, seed=seed))
    recipe = next(r for r in recipes.RECIPES if r.stage == FlexibleDejpeg.name)
    small = dataclasses.replace(recipe, config=FLEXIBLE_NARROW, patch=32, batch=2, holdout=50)
    out = tmp_path / "flexible.safetensors"
    torch.manual_seed(1)
    untrained = flexible.SPEC.build(FLEXIBLE_NARROW)
    manifest = train(small, out, data_root=tmp_path, folders=[folder], steps=2, evaluations=1)
    assert manifest.stage == "dejpeg.flexible" and manifest.architecture == flexible.ARCHITECTURE
    trained, _ = load_weights(out, expect_stage="dejpeg.flexible")
    before = untrained.state_dict()
    for part in ("estimator", "remover"):  # both parts learn in the same steps
        assert any(
            not torch.equal(value, before[name])
            for name, value in trained.items()
            if name.startswith(part)
        )
    params = FlexibleDejpegParams(weights=out, quality=40)
    assert FlexibleDejpeg.check(params) == []
    image = synthetic_photo(40, 44, seed=9)
    cleaned = run_stage(FlexibleDejpeg(CPU), {"image": image}, params, TileOptions())["image"]
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
