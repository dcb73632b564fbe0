"""The shipped damage detector: weights that verify, and a quick check of its quality on
small damaged photos (seeded synthetic damage over scikit-image photos)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from restore.api.weights import load_weights
from restore.engine.tiling import TileOptions, run_stage
from restore.lab.degrade import Cracks, PrintLike, PrintScratches, Recipe
from skimage import data

from restore_inpaint import learned_mask, unet
from restore_inpaint.learned_mask import LearnedMask, LearnedMaskParams

CPU = torch.device("cpu")
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


KNOWN_FALSE_ALARMS = pytest.mark.xfail(
    strict=True,
    reason="issue 11: the shipped detector marks 2.9 % of this print-like crop (its dark corner "
    "as a torn corner, bright spots in the hair); retraining with faces as hard negatives",
)


@pytest.mark.parametrize("kind", ["gray", pytest.param("rgb", marks=KNOWN_FALSE_ALARMS)])
def test_shipped_detector_spares_faces_and_hair(kind: str) -> None:
    clean = print_like(photo(kind), 2)
    assert np.mean(detect(clean) > 0.5) < 0.02
