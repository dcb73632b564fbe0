"""The super-resolution stages: honest halo at both scales, exact tiles at x4, weights,
training, and a pipeline that continues at the new size with metadata kept."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageCms
from restore import Pipeline
from restore.api import StageUnavailable, hookimpl
from restore.app.registry import Registry
from restore.engine.tiling import TileOptions, run_stage
from restore.io.images import write_image
from restore.lab.degrade import Downscale
from restore.lab.training import train, training_recipes
from restore.testing import measured_receptive_radius, synthetic_photo
from restore_denoise.nlmeans import NLMeans
from torch import nn

import restore_superres
from restore_superres import recipes, rrdb
from restore_superres.learned import (
    SuperRes,
    SuperResParams,
    SuperResRealX4,
    SuperResX2,
    SuperResX4,
)

CPU = torch.device("cpu")
NARROW = rrdb.RRDBConfig(features=8, growth=4, blocks=1)
STAGES = {2: SuperResX2, 4: SuperResX4}


def random_stage(scale: int) -> type[SuperRes]:
    """The stage with a seeded random (narrow, but as deep) network instead of the weights."""

    class Random(STAGES[scale]):  # type: ignore[valid-type,misc]
        def network(self, weights: Path | None) -> nn.Module:
            torch.manual_seed(0)
            return rrdb.SPECS[scale].build(NARROW).eval()

    return Random


def test_registers_both_stages_and_recipes() -> None:
    registry = Registry.from_plugins(restore_superres)
    assert {"superres.rrdb_x2", "superres.rrdb_x4", "superres.real_x4"} <= set(registry.stages)
    found = training_recipes(registry)
    for scale, stage in STAGES.items():
        recipe = found[stage.name]
        assert recipe.network is rrdb.SPECS[scale] and stage.tiling.scale == scale
        assert recipe.patch % scale == 0


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("blocks", [1, 2])
def test_declared_halo_is_the_measured_receptive_field(scale: int, blocks: int) -> None:
    config = NARROW.model_copy(update={"blocks": blocks})
    network = rrdb.SPECS[scale].build(config)
    measured = measured_receptive_radius(network, 3, 96, scale=scale)
    assert measured == rrdb.receptive_radius(config, scale)
    assert STAGES[scale].tiling.halo == rrdb.SPECS[scale].halo(rrdb.RRDBConfig())


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize("channels", [1, 3])
def test_tiles_are_exact(scale: int, channels: int, tiling_exactness) -> None:
    image = synthetic_photo(97, 110, seed=channels)[..., :channels]
    tiling_exactness(random_stage(scale), image, tile=40)


@pytest.mark.parametrize("scale", [2, 4])
def test_output_is_scale_times_the_input_and_gray_stays_gray(scale: int) -> None:
    stage = random_stage(scale)(CPU)
    for channels in (1, 3):
        image = synthetic_photo(30, 38, seed=5)[..., :channels]
        out = run_stage(stage, {"image": image}, SuperResParams(), TileOptions())["image"]
        assert out.shape == (30 * scale, 38 * scale, channels)
        assert 0 <= out.min() <= out.max() <= 1


def test_missing_shipped_weights_make_the_stage_unavailable(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(SuperResX4, "weights_folder", tmp_path)
    with pytest.raises(StageUnavailable) as caught:
        SuperResX4(CPU).network(None)
    assert str(caught.value) == (
        f"{tmp_path / SuperResX4.shipped}.json: cannot read the weights manifest (no such file)"
    )


def test_training_runs_two_steps_and_each_stage_refuses_the_others_weights(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "photos"
    for seed in range(6):
        write_image(folder / f"{seed}.png", synthetic_photo(64, 72, seed=seed))
    recipe = next(r for r in recipes.RECIPES if r.stage == SuperResX2.name)
    small = dataclasses.replace(recipe, config=NARROW, patch=32, batch=2, holdout=50)
    out = tmp_path / "x2.safetensors"
    manifest = train(small, out, data_root=tmp_path, folders=[folder], steps=2, evaluations=1)
    assert manifest.stage == SuperResX2.name and manifest.training.recipe == "bicubic-x2"
    params = SuperResParams(weights=out)
    assert SuperResX2.check(params) == []
    image = synthetic_photo(20, 24, seed=9)
    out_image = run_stage(SuperResX2(CPU), {"image": image}, params, TileOptions())["image"]
    assert out_image.shape == (40, 48, 3)
    (problem,) = SuperResX4.check(params)
    assert problem == f"{out}: weights are for stage 'superres.rrdb_x2', not 'superres.rrdb_x4'"


def test_antialiased_downscale_matches_pillows_bicubic() -> None:
    image = synthetic_photo(64, 80, seed=2)
    low = Downscale(factor=4, method="antialiased").apply(image, np.zeros((64, 80)), None)[0]
    eight = Image.fromarray(np.round(image * 255).astype(np.uint8))
    reference = np.asarray(eight.resize((20, 16), Image.Resampling.BICUBIC)) / 255
    assert low.shape == (16, 20, 3)
    assert np.abs(low - reference).max() < 2 / 255


class RandomPlugin:
    """The x2 stage with a random network, and a denoiser to run after it."""

    __name__ = "random_superres"

    @hookimpl
    def register_stages(self, register) -> None:
        register(random_stage(2))
        register(NLMeans)


def test_a_pipeline_goes_on_at_the_new_size_and_keeps_alpha_icc_exif_and_format(
    tmp_path: Path,
) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "Kodak"  # Make
    pixels = np.round(synthetic_photo(36, 44, seed=1) * 255).astype(np.uint8)
    alpha = np.zeros((36, 44), np.uint8)
    alpha[:, 22:] = 255
    Image.fromarray(np.dstack([pixels, alpha]), "RGBA").save(
        tmp_path / "in.png", icc_profile=srgb, exif=exif.tobytes(), dpi=(300, 300)
    )
    nodes = [{"id": "sr", "uses": "superres.rrdb_x2"}, {"id": "nr", "uses": "denoise.nlmeans"}]
    pipeline = Pipeline({"nodes": nodes}, registry=Registry.from_plugins(RandomPlugin()))
    saved = pipeline.run(tmp_path / "in.png").save(tmp_path / "out.png")
    with Image.open(saved) as out:
        assert out.size == (88, 72) and out.mode == "RGBA" and out.format == "PNG"
        assert out.info["icc_profile"] == srgb and out.getexif()[0x010F] == "Kodak"
        assert out.info["dpi"] == pytest.approx((600, 600), abs=0.1)
        out_alpha = np.asarray(out)[..., 3]
    assert out_alpha[:, :42].max() == 0 and out_alpha[:, 46:].min() == 255


def test_the_realistic_recipes_fine_tune_the_x4_weights_one_against_a_critic() -> None:
    realistic = [r for r in recipes.RECIPES if r.stage == SuperResRealX4.name]
    assert [r.name for r in realistic] == [SuperResRealX4.name, f"{SuperResRealX4.name}-gan"]
    shipped, gan = realistic
    assert shipped.adversarial is None and gan.adversarial is not None
    assert dataclasses.replace(gan, name=shipped.name, description=shipped.description,
                               adversarial=None) == shipped  # fmt: skip
    for recipe in realistic:
        assert recipe.network is rrdb.SPECS[4]
        assert Path(str(recipe.start_from)).name == f"{SuperResX4.shipped}.safetensors"
    assert SuperResRealX4.tiling == SuperResX4.tiling


def test_the_real_world_degradation_is_seeded_and_lands_at_the_low_resolution_size() -> None:
    image = synthetic_photo(128, 96, seed=3)
    degradation = recipes.RealWorld(name="real-world-x4", scale=4)
    first, again = degradation.apply(image, 5), degradation.apply(image, 5)
    assert np.array_equal(first.image, again.image) and first.steps == again.steps
    assert first.image.shape == (32, 24, 3) and first.image.dtype == np.float32
    assert 0 <= first.image.min() <= first.image.max() <= 1
    kinds = [step["kind"] for step in first.steps]
    assert kinds[:4] == ["gaussian_blur", "resize", "gaussian_noise", "jpeg"]
    assert kinds[-2:] == ["resize", "jpeg"]
    others = [degradation.apply(image, seed).image for seed in range(6, 10)]
    assert any(not np.array_equal(first.image, other) for other in others)
