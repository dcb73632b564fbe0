"""The shipped damage detector and inpainter: weights that verify, and a quick check of
their quality on small damaged photos (seeded synthetic damage over scikit-image photos)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from restore.api.weights import load_weights
from restore.engine.tiling import TileOptions, run_stage
from restore.lab.degrade import Cracks, PrintLike, PrintScratches, Recipe
from skimage import data

from restore_inpaint import gated, learned_fill, learned_mask, unet
from restore_inpaint.learned_fill import LearnedFill, LearnedFillParams
from restore_inpaint.learned_mask import LearnedMask, LearnedMaskParams
from restore_inpaint.opencv import OpenCVInpaint, OpenCVInpaintParams

CPU = torch.device("cpu")
MARGIN_DB = 1.0  # mean gain of the inpainter over Telea inside the true mask (measured 1.4-2.0)
DAMAGE = Recipe(steps=[Cracks(count=(2, 3), width=(1, 5)), PrintScratches(count=(1, 1))])


def photo(kind: str, size: int = 160) -> np.ndarray:
    """A crop of a scikit-image photo with a face and hair, in [0, 1]."""
    image = data.astronaut() if kind == "rgb" else np.repeat(data.camera()[..., None], 3, 2)
    return image[20 : 20 + size, 160 : 160 + size].astype(np.float32) / 255


def print_like(image: np.ndarray, seed: int) -> np.ndarray:
    """``image`` as an undamaged old print (gray or sepia, faded, grain, blur, JPEG)."""
    return Recipe(steps=[PrintLike()]).apply(image, seed).image


def detect(image: np.ndarray) -> np.ndarray:
    """The shipped detector's mask (stage defaults) of ``image``'s luma."""
    luma = image.mean(axis=2, keepdims=True)
    return run_stage(LearnedMask(CPU), {"image": luma}, LearnedMaskParams(), TileOptions())["mask"][
        ..., 0
    ]


def test_shipped_detector_verifies_and_matches_its_stage() -> None:
    path = Path(str(learned_mask.WEIGHTS)) / f"{learned_mask.SHIPPED}.safetensors"
    _, manifest = load_weights(
        path, expect_stage=LearnedMask.name, expect_architecture=unet.ARCHITECTURE
    )
    # the stage's descriptor is derived from the configuration the weights were built with
    assert unet.SPEC.parse(manifest.config) == unet.DamageUNetConfig()
    assert manifest.training.command.startswith(f"restore train {LearnedMask.name} ")
    assert path.with_suffix(".md").is_file()  # its model card


@pytest.mark.parametrize(("kind", "seed"), [("gray", 0), ("rgb", 1)])
def test_shipped_detector_finds_cracks_and_scratches(kind: str, seed: int) -> None:
    clean = print_like(photo(kind), seed)
    damaged = DAMAGE.apply(clean, seed)
    truth, found = damaged.mask > 0.5, detect(damaged.image) > 0.5
    f1 = 2 * np.sum(found & truth) / (found.sum() + truth.sum())
    assert f1 > 0.6


@pytest.mark.parametrize("kind", ["gray", "rgb"])
def test_shipped_detector_spares_faces_and_hair(kind: str) -> None:
    clean = print_like(photo(kind), 2)
    assert np.mean(detect(clean) > 0.5) < 0.02


def psnr_inside(restored: np.ndarray, clean: np.ndarray, mask: np.ndarray) -> float:
    """PSNR (8-bit) of ``restored`` against ``clean`` over the pixels of ``mask`` (H x W
    or H x W x 1)."""
    inside = mask[..., 0] > 0.5 if mask.ndim == 3 else mask > 0.5
    error = np.mean((np.round(restored[inside] * 255) - np.round(clean[inside] * 255)) ** 2)
    return float(10 * np.log10(255**2 / error))


def test_shipped_inpainter_verifies_and_matches_its_stage() -> None:
    path = Path(str(learned_fill.WEIGHTS)) / f"{learned_fill.SHIPPED}.safetensors"
    _, manifest = load_weights(
        path, expect_stage=LearnedFill.name, expect_architecture=gated.ARCHITECTURE
    )
    assert gated.SPEC.parse(manifest.config) == gated.GatedUNetConfig()
    assert manifest.training.command.startswith(f"restore train {LearnedFill.name} ")
    assert path.with_suffix(".md").is_file()


@pytest.mark.parametrize("kind", ["gray", "rgb"])
def test_shipped_inpainter_fills_cracks_better_than_telea(kind: str) -> None:
    """Over six seeded damages of one photo: better than Telea every time, by MARGIN_DB
    on average, and never a pixel outside the mask changed."""
    gains = []
    for seed in range(6):
        clean = photo(kind)
        damaged = DAMAGE.apply(clean, seed)
        mask = damaged.mask[..., None]
        inputs = {"image": damaged.image, "mask": mask}
        learned = run_stage(LearnedFill(CPU), inputs, LearnedFillParams(), TileOptions())["image"]
        telea = run_stage(OpenCVInpaint(CPU), inputs, OpenCVInpaintParams(), TileOptions())["image"]
        outside = mask[..., 0] == 0
        np.testing.assert_array_equal(learned[outside], damaged.image[outside])
        gains.append(psnr_inside(learned, clean, mask) - psnr_inside(telea, clean, mask))
    assert min(gains) > 0
    assert np.mean(gains) > MARGIN_DB
