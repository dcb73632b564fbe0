"""The learned sharpener: honest halo, exact tiles, cost, weights and training (strength:
``tests/api/test_learned_stages.py``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from restore.app.registry import Registry
from restore.engine.tiling import TileOptions, run_stage
from restore.io.images import write_image
from restore.lab.training import train, training_recipes
from restore.testing import measured_receptive_radius, synthetic_photo
from restore_deblur import unet
from torch import nn

import restore_sharpen
from restore_sharpen import cnn, recipes
from restore_sharpen.learned import LearnedSharpen, LearnedSharpenParams

CPU = torch.device("cpu")
NARROW = cnn.SharpenCNNConfig(width=8)  # the width does not change the reach


class RandomSharpen(LearnedSharpen):
    """The stage with a seeded random network instead of the shipped weights."""

    def network(self, weights: Path | None) -> nn.Module:
        torch.manual_seed(0)
        return cnn.SPEC.build(NARROW).eval()


def macs_per_pixel(network: nn.Module, channels: int, size: int = 64) -> float:
    """Multiply-accumulates of the network's convolutions per input pixel."""
    total = 0

    def count(module: nn.Module, args: object, output: torch.Tensor) -> None:
        nonlocal total
        assert isinstance(module, nn.Conv2d)
        per_output = module.in_channels // module.groups * module.kernel_size[0] ** 2
        total += output.numel() * per_output

    convs = [m for m in network.modules() if isinstance(m, nn.Conv2d)]
    hooks = [conv.register_forward_hook(count) for conv in convs]
    with torch.no_grad():
        network(torch.zeros(1, channels, size, size))
    for hook in hooks:
        hook.remove()
    return total / size**2


def test_registers_the_stage_and_its_recipe() -> None:
    registry = Registry.from_plugins(restore_sharpen)
    assert "sharpen.cnn" in registry.stages
    (recipe,) = training_recipes(registry).values()
    assert recipe.name == recipe.stage == "sharpen.cnn" and recipe.network is cnn.SPEC
    assert recipe.predict is cnn.sharpened and recipe.bf16 and recipe.gpu_scale > 1


def test_declared_halo_is_the_measured_receptive_field() -> None:
    measured = measured_receptive_radius(cnn.SPEC.build(NARROW), 3, 128, cnn.SPEC.multiple)
    assert LearnedSharpen.tiling.halo == cnn.SPEC.halo(cnn.SharpenCNNConfig())
    assert measured <= LearnedSharpen.tiling.halo < measured + cnn.SPEC.multiple


def test_costs_under_a_fifth_of_the_deblurrer_per_pixel() -> None:
    sharpen = macs_per_pixel(cnn.SPEC.build(cnn.SharpenCNNConfig()), 3)
    deblur = macs_per_pixel(unet.SPEC.build(unet.DeblurUNetConfig()), 3)
    print(f"MACs per pixel: sharpen.cnn {sharpen:,.0f}, deblur.unet {deblur:,.0f}")
    assert sharpen < deblur / 5


@pytest.mark.parametrize("channels", [1, 3])
def test_tiles_are_exact(channels: int, tiling_exactness) -> None:
    image = synthetic_photo(150, 170, seed=channels)[..., :channels]
    tiling_exactness(RandomSharpen, image, tile=64)


def test_training_runs_two_steps_and_the_stage_refuses_other_weights(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    for seed in range(6):
        write_image(folder / f"{seed}.png", synthetic_photo(48, 56, seed=seed))
    (recipe,) = recipes.RECIPES
    small = dataclasses.replace(recipe, config=NARROW, patch=32, batch=2, holdout=50)
    out = tmp_path / "sharpen.safetensors"
    manifest = train(small, out, data_root=tmp_path, folders=[folder], steps=2, evaluations=1)
    assert manifest.stage == "sharpen.cnn" and manifest.training.recipe == "softness"
    params = LearnedSharpenParams(weights=out)
    assert LearnedSharpen.check(params) == []
    image = synthetic_photo(40, 44, seed=9)
    sharpened = run_stage(LearnedSharpen(CPU), {"image": image}, params, TileOptions())["image"]
    assert sharpened.shape == image.shape and 0 <= sharpened.min() <= sharpened.max() <= 1

    other = tmp_path / "other.safetensors"
    other.write_bytes(out.read_bytes())
    text = out.with_suffix(".json").read_text().replace('"sharpen.cnn"', '"deblur.unet"')
    other.with_suffix(".json").write_text(text)
    (problem,) = LearnedSharpen.check(LearnedSharpenParams(weights=other))
    assert problem == f"{other}: weights are for stage 'deblur.unet', not 'sharpen.cnn'"
    (problem,) = LearnedSharpen.check(LearnedSharpenParams(weights=tmp_path / "w.pt"))
    assert "expected a .safetensors file" in problem
