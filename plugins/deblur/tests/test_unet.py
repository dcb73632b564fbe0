"""The learned deblurrer: honest halo, exact blind tiles, kernel files, weights and training."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from restore.api import RestoreError, StageUnavailable
from restore.api.kernels import motion_kernel
from restore.app.registry import Registry
from restore.engine.tiling import TileOptions, run_stage
from restore.io.images import write_image
from restore.lab.export import save_weights
from restore.lab.metrics import psnr
from restore.lab.training import train, training_recipes
from restore.testing import measured_receptive_radius, synthetic_photo
from skimage import data
from torch import nn

import restore_deblur
from restore_deblur import learned, recipes, unet
from restore_deblur.deconvolution import wiener
from restore_deblur.kernel_file import MAX_SIDE, read_kernel
from restore_deblur.learned import LearnedDeblur, LearnedDeblurParams
from restore_deblur.recipes import BlurFamilies, blur, centred

CPU = torch.device("cpu")
NARROW = {"widths": (8, 8, 8)}  # widths do not change the reach


class RandomDeblur(LearnedDeblur):
    """The stage with seeded random networks of each mode instead of the shipped weights."""

    def network(self, kernel_aware: bool, weights: Path | None) -> nn.Module:
        torch.manual_seed(int(kernel_aware))
        return unet.SPEC.build(unet.DeblurUNetConfig(kernel_aware=kernel_aware, **NARROW)).eval()


class WienerOnly(LearnedDeblur):
    """The stage with networks that correct nothing: the kernel mode is its Wiener step."""

    def network(self, kernel_aware: bool, weights: Path | None) -> nn.Module:
        network = unet.SPEC.build(unet.DeblurUNetConfig(kernel_aware=kernel_aware, **NARROW))
        nn.init.zeros_(network.tail.weight)
        nn.init.zeros_(network.tail.bias)
        return network.eval()


def scene(size: int = 256, offset: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """A crop of a larger photo (scikit-image's astronaut) and the 512 px photo itself."""
    photo = data.astronaut().astype(np.float32) / 255
    return photo[offset : offset + size, offset : offset + size], photo


def blurred_crop(kernel: np.ndarray, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(blurred crop of a larger scene, its sharp crop): the blur sees beyond the crop."""
    clean, photo = scene(size)
    blurred = blur(photo, kernel)[100 : 100 + size, 100 : 100 + size]
    noise = np.random.default_rng(0).normal(0, 1 / 255, blurred.shape)
    return np.clip(blurred + noise, 0, 1).astype(np.float32), clean


def kernel_file(folder: Path, kernel: np.ndarray, name: str = "k.npy") -> Path:
    path = folder / name
    np.save(path, kernel)
    return path


def random_weights(path: Path, config: unet.DeblurUNetConfig, stage: str = LearnedDeblur.name):
    """Untrained weights with a manifest, as `restore train` writes them."""
    torch.manual_seed(0)
    training = {"data": [], "recipe": "x", "command": "test", "steps": 0, "seconds": 0.0}
    save_weights(
        unet.SPEC.build(config),
        path,
        name=path.stem,
        stage=stage,
        architecture=unet.ARCHITECTURE,
        config=config.model_dump(mode="json"),
        version="0",
        training={**training, "date": "2024-01-01"},
    )
    return path


# --- plugin and network -----------------------------------------------------------------


def test_registers_the_stage_and_its_recipes() -> None:
    registry = Registry.from_plugins(restore_deblur)
    assert "deblur.unet" in registry.stages
    found = training_recipes(registry)
    assert set(found) == {"deblur.unet-blind", "deblur.unet-kernel"}
    for name, recipe in found.items():
        assert recipe.stage == "deblur.unet" and recipe.network is unet.SPEC
        assert recipe.config == unet.DeblurUNetConfig(kernel_aware=name.endswith("kernel"))
        assert recipe.bf16 and recipe.gpu_scale > 1


@pytest.mark.parametrize("kernel_aware", [False, True])
def test_declared_halo_is_the_measured_receptive_field(kernel_aware: bool) -> None:
    config = unet.DeblurUNetConfig(kernel_aware=kernel_aware)  # the shipped configuration
    narrow = unet.SPEC.build(config.model_copy(update=NARROW))
    measured = measured_receptive_radius(narrow, config.inputs, 320, unet.SPEC.multiple)
    assert measured <= unet.SPEC.halo(config) < measured + unet.SPEC.multiple
    assert LearnedDeblur.tiling.halo == unet.SPEC.halo(config) + MAX_SIDE // 2
    assert measured >= 2 * 25 // 2  # twice the radius of a 25 px motion blur


def test_the_network_is_a_correction_of_its_base() -> None:
    x = torch.rand(2, 6, 32, 32)
    zero = WienerOnly(CPU).network(True, None)
    torch.testing.assert_close(unet.restored(zero, x), x[:, :3], rtol=0, atol=0)


# --- tiles --------------------------------------------------------------------------------


@pytest.mark.parametrize("channels", [1, 3])
def test_blind_tiles_are_exact(channels: int, tiling_exactness) -> None:
    image = synthetic_photo(300, 340, seed=channels)[..., :channels]
    tiling_exactness(RandomDeblur, image, tile=256)


def test_kernel_mode_tiles_restore_as_well_as_the_whole_image(tmp_path: Path) -> None:
    """A Wiener filter's inverse reaches beyond the kernel, so tiles only nearly agree with
    the whole image; they restore the sharp image as well."""
    kernel = motion_kernel(25, 60)  # the longest motion trained on
    degraded, clean = blurred_crop(kernel, 384)
    stage, params = WienerOnly(CPU), LearnedDeblurParams(kernel_file=kernel_file(tmp_path, kernel))
    whole = run_stage(stage, {"image": degraded}, params, TileOptions(tile=0))["image"]
    tiled = run_stage(stage, {"image": degraded}, params, TileOptions(tile=256))["image"]
    assert psnr(tiled, whole) > 30
    assert abs(psnr(tiled, clean) - psnr(whole, clean)) < 0.3
    assert psnr(whole, clean) > psnr(degraded, clean) + 1


# --- Wiener deconvolution and the kernel file ---------------------------------------------


def test_wiener_with_tapered_padding_beats_symmetric_padding() -> None:
    """On a crop of a larger scene (issue 13: symmetric padding loses about 2.4 dB)."""
    kernel = motion_kernel(21, 30)
    degraded, clean = blurred_crop(kernel)
    pad = max(kernel.shape)

    def deconvolve(image: np.ndarray) -> np.ndarray:
        tensor = torch.from_numpy(image.transpose(2, 0, 1).copy())[None]
        return wiener(tensor, kernel, learned.BALANCE)[0].permute(1, 2, 0).clamp(0, 1).numpy()

    symmetric = np.pad(degraded, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
    mirrored = deconvolve(symmetric)[pad:-pad, pad:-pad]
    tapered = deconvolve(degraded)
    assert psnr(tapered, clean) > psnr(mirrored, clean) + 1
    assert psnr(tapered, clean) > psnr(degraded, clean) + 2


def test_kernel_files_png_and_npy_are_read_and_normalised(tmp_path: Path) -> None:
    kernel = np.zeros((9, 9))
    kernel[3:6, 2:7] = [[1, 2, 3, 2, 1]] * 3
    expected = kernel[3:6, 2:7] / kernel.sum()  # all-zero borders trimmed evenly: centre kept
    np.testing.assert_allclose(read_kernel(kernel_file(tmp_path, kernel * 7)), expected, 1e-6)
    gray = tmp_path / "gray.png"
    cv2.imwrite(str(gray), (kernel * 80).astype(np.uint8))
    np.testing.assert_allclose(read_kernel(gray), expected, 1e-6)
    rgb = tmp_path / "rgb.png"
    cv2.imwrite(str(rgb), np.repeat((kernel * 8000).astype(np.uint16)[..., None], 3, axis=2))
    np.testing.assert_allclose(read_kernel(rgb), expected, 1e-6)
    off_centre = np.zeros((7, 7))
    off_centre[0, 0] = off_centre[3, 3] = 1
    assert read_kernel(kernel_file(tmp_path, off_centre)).shape == (7, 7)  # the shift is kept
    noisy = kernel - 0.01  # an estimated kernel's small negative values are dropped
    np.testing.assert_allclose(read_kernel(kernel_file(tmp_path, noisy)).sum(), 1, 1e-6)


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("missing.npy", None, "no such kernel file"),
        ("k.txt", b"1 2 3", "must be a .png or .npy file"),
        ("bad.png", b"not a png", "not a readable PNG"),
        ("bad.npy", b"garbage", "not a readable .npy"),
        ("cube.npy", np.ones((3, 3, 3)), "expected a 2-D numeric array"),
        ("zero.npy", np.zeros((5, 5)), "all zero"),
        ("nan.npy", np.full((3, 3), np.nan), "NaN"),
        ("huge.npy", np.ones((MAX_SIDE + 2, 3)), f"at most {MAX_SIDE} x {MAX_SIDE}"),
    ],
)
def test_a_bad_kernel_file_is_one_line_naming_it(
    tmp_path: Path, name: str, content: object, problem: str
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, np.ndarray):
        np.save(path, content)
    with pytest.raises(RestoreError) as caught:
        read_kernel(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message
    (found,) = LearnedDeblur.check(LearnedDeblurParams(kernel_file=path))
    assert found == message


# --- weights ------------------------------------------------------------------------------


def test_missing_shipped_weights_make_the_stage_unavailable(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(learned, "WEIGHTS", tmp_path)
    for kernel_aware, stem in learned.SHIPPED.items():
        with pytest.raises(StageUnavailable) as caught:
            LearnedDeblur(CPU).network(kernel_aware, None)
        assert str(caught.value) == (
            f"{tmp_path / stem}.json: cannot read the weights manifest (no such file)"
        )


def test_check_refuses_weights_of_another_stage_or_mode(tmp_path: Path) -> None:
    blind = random_weights(tmp_path / "blind.safetensors", unet.DeblurUNetConfig(**NARROW))
    aware = unet.DeblurUNetConfig(kernel_aware=True, **NARROW)
    kernel_aware = random_weights(tmp_path / "aware.safetensors", aware)
    other = random_weights(tmp_path / "other.safetensors", aware, stage="sharpen.cnn")
    kernel = kernel_file(tmp_path, np.ones((3, 3)))
    assert LearnedDeblur.check(LearnedDeblurParams(weights=blind)) == []
    assert LearnedDeblur.check(LearnedDeblurParams(weights=kernel_aware, kernel_file=kernel)) == []
    (problem,) = LearnedDeblur.check(LearnedDeblurParams(weights=kernel_aware))
    assert problem == f"{kernel_aware}: weights are for the kernel-aware mode (with kernel_file)"
    (problem,) = LearnedDeblur.check(LearnedDeblurParams(weights=blind, kernel_file=kernel))
    assert problem == f"{blind}: weights are for blind deblurring (without kernel_file)"
    (problem,) = LearnedDeblur.check(LearnedDeblurParams(weights=other))
    assert problem == f"{other}: weights are for stage 'sharpen.cnn', not 'deblur.unet'"
    with pytest.raises(StageUnavailable, match="weights are for the kernel-aware mode"):
        LearnedDeblur(CPU).network(False, kernel_aware)


# --- training -----------------------------------------------------------------------------


def test_centred_kernels_do_not_shift_the_image() -> None:
    kernel = np.zeros((9, 9), np.float32)
    kernel[1, 5:8] = 1  # centroid at (1, 6): four rows up, two columns right of the centre
    moved = centred(kernel)
    assert moved.shape == (3, 3) and moved.sum() == pytest.approx(1)
    np.testing.assert_allclose(moved[1], 1 / 3)


def test_pairs_blur_by_every_family_and_the_kernel_mode_sees_the_wiener_step(
    tmp_path: Path,
) -> None:
    (tmp_path / "blur_kernels").mkdir()
    np.save(tmp_path / "blur_kernels" / "k.npy", np.ones((5, 5)))
    clean = synthetic_photo(64, 64, seed=2)
    blind = BlurFamilies("blind").with_data(tmp_path)
    drawn = {blind.apply(clean, seed).steps[0]["family"] for seed in range(40)}
    assert drawn == set(recipes.FAMILIES)
    box = dataclasses.replace(blind, families=("real",))  # the 5 x 5 box, however turned
    plain = box.apply(clean, 5)
    both = dataclasses.replace(box, kernel_aware=True).apply(clean, 5)
    assert both.steps == plain.steps and both.image.shape == (64, 64, 6)
    expected = recipes.deconvolved_input(plain.image, np.full((5, 5), 1 / 25, np.float32))
    np.testing.assert_allclose(both.image, expected, atol=1e-6)


@pytest.mark.parametrize("recipe", recipes.RECIPES, ids=lambda r: r.name)
def test_training_runs_two_steps_and_the_stage_runs_its_weights(
    recipe: recipes.TrainingRecipe, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    for seed in range(6):
        write_image(folder / f"{seed}.png", synthetic_photo(48, 56, seed=seed))
    (tmp_path / "blur_kernels").mkdir()
    np.save(tmp_path / "blur_kernels" / "k.npy", np.ones((5, 5)))
    small = dataclasses.replace(
        recipe, config=recipe.config.model_copy(update=NARROW), patch=32, batch=2, holdout=50
    )
    out = tmp_path / "w.safetensors"
    manifest = train(small, out, data_root=tmp_path, folders=[folder], steps=2, evaluations=1)
    assert manifest.stage == "deblur.unet" and manifest.training.recipe == recipe.degradation.name
    kernel_aware = small.config.kernel_aware
    kernel = kernel_file(tmp_path, np.ones((3, 3))) if kernel_aware else None
    params = LearnedDeblurParams(weights=out, kernel_file=kernel)
    assert LearnedDeblur.check(params) == []
    image = synthetic_photo(40, 44, seed=9)
    restored = run_stage(LearnedDeblur(CPU), {"image": image}, params, TileOptions())["image"]
    assert restored.shape == image.shape and 0 <= restored.min() <= restored.max() <= 1
