"""Tests of the restore-inpaint plugin."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from pydantic import ValidationError
from restore.api import PortKind
from restore.app.registry import Registry
from restore.engine.tiling import TileOptions, run_stage
from skimage import data

import restore_inpaint
from restore_inpaint.damage_mask import DamageMask, DamageMaskParams
from restore_inpaint.opencv import OpenCVInpaint, OpenCVInpaintParams

CPU = torch.device("cpu")
SCRATCH, DUST = 1, 2


def batch(image: np.ndarray) -> torch.Tensor:
    image = image[..., None] if image.ndim == 2 else image
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].float()


def unbatch(tensor: torch.Tensor) -> np.ndarray:
    return tensor[0].permute(1, 2, 0).numpy()


def crop(kind: str) -> np.ndarray:
    """A smooth-ish 128 x 128 float32 crop: camera sky (gray) or cat and wall (chelsea, RGB)."""
    if kind == "gray":
        return (data.camera()[:128, 256:384, None] / 255).astype(np.float32)
    return (data.chelsea()[:128, :128] / 255).astype(np.float32)


def damaged(image: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with white scratches and black dust drawn on it, and the drawn labels."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(image.shape[:2], np.uint8)
    for _ in range(3):
        x0, y0, x1, y1 = (int(v) for v in rng.integers(0, 128, 4))
        cv2.line(labels, (x0, y0), (x1, y1), SCRATCH, int(rng.integers(1, 3)))
    for _ in range(12):
        x, y = (int(v) for v in rng.integers(4, 124, 2))
        cv2.circle(labels, (x, y), int(rng.integers(1, 4)), DUST, -1)
    out = image.copy()
    out[labels == SCRATCH], out[labels == DUST] = 1.0, 0.0
    return out, labels


def detect(image: np.ndarray, **params: object) -> np.ndarray:
    out = DamageMask(CPU).process({"image": batch(image)}, DamageMaskParams(**params))
    return unbatch(out["mask"])[..., 0]


def inpaint(image: np.ndarray, mask: np.ndarray, **params: object) -> np.ndarray:
    inputs = {"image": batch(image), "mask": batch(mask.astype(np.float32))}
    return unbatch(OpenCVInpaint(CPU).process(inputs, OpenCVInpaintParams(**params))["image"])


def far_from(labels: np.ndarray, distance: int) -> np.ndarray:
    """Pixels more than ``distance`` px from any drawn defect."""
    size = 2 * distance + 1
    return cv2.dilate((labels > 0).astype(np.uint8), np.ones((size, size), np.uint8)) == 0


def test_registers_through_the_plugin_hook() -> None:
    registry = Registry.from_plugins(restore_inpaint)
    assert not list(registry.broken())
    assert set(registry.stages) == {
        "inpaint.damage_mask",
        "inpaint.unet_mask",
        "inpaint.opencv",
        "inpaint.gated",
    }
    assert DamageMask.outputs["mask"].kind is PortKind.MASK
    assert OpenCVInpaint.inputs["mask"].kind is PortKind.MASK


def test_installed_entry_point_provides_the_stages() -> None:
    registry = Registry.from_entry_points({"RESTORE_PLUGINS": "inpaint"})
    assert [(info.name, info.error) for info in registry.plugins if not info.skipped] == [
        ("inpaint", None)
    ]
    assert set(registry.stages) == {
        "inpaint.damage_mask",
        "inpaint.unet_mask",
        "inpaint.opencv",
        "inpaint.gated",
    }


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        (DamageMaskParams, {"radius": 3}),
        (DamageMaskParams, {"size": 2}),
        (DamageMaskParams, {"size": 15}),
        (DamageMaskParams, {"threshold": 0}),
        (DamageMaskParams, {"dilate": -1}),
        (DamageMaskParams, {"detect": "grey"}),
        (OpenCVInpaintParams, {"method": "patchmatch"}),
        (OpenCVInpaintParams, {"radius": 0.5}),
        (OpenCVInpaintParams, {"size": 9}),
    ],
)
def test_params_reject_bad_values(params: type, bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        params(**bad)


def test_tiled_mask_matches_the_whole_image() -> None:
    image, _ = damaged(crop("rgb"))
    stage, params = DamageMask(CPU), DamageMaskParams(size=13, dilate=7)  # widest reach
    whole = run_stage(stage, {"image": image}, params, TileOptions(tile=0))["mask"]
    tiled = run_stage(stage, {"image": image}, params, TileOptions(tile=80))["mask"]
    np.testing.assert_allclose(tiled, whole, atol=1e-6)  # blending rounds


@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_and_ranges(channels: int) -> None:
    image = torch.rand(2, channels, 40, 50)
    mask = DamageMask(CPU).process({"image": image}, DamageMaskParams())["mask"]
    assert mask.shape == (2, 1, 40, 50) and set(mask.unique().tolist()) <= {0.0, 1.0}
    inputs = {"image": image, "mask": mask}
    out = OpenCVInpaint(CPU).process(inputs, OpenCVInpaintParams())["image"]
    assert out.shape == image.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("kind", ["gray", "rgb"])
@pytest.mark.parametrize("seed", [0, 1])
def test_mask_finds_scratches_and_dust(kind: str, seed: int) -> None:
    image, labels = damaged(crop(kind), seed)
    mask = detect(image) > 0.5
    recall = mask[labels > 0].mean()
    false_positives = mask[far_from(labels, DamageMaskParams().dilate + 1)].mean()
    assert recall >= 0.8, f"recall {recall:.3f}"
    assert false_positives < 0.05, f"false positives {false_positives:.3f}"


def test_detect_selects_bright_or_dark_defects() -> None:
    image, labels = damaged(crop("gray"))
    bright, dark = detect(image, detect="bright") > 0.5, detect(image, detect="dark") > 0.5
    assert bright[labels == SCRATCH].mean() > 0.8 > bright[labels == DUST].mean()
    assert dark[labels == DUST].mean() > 0.8 > dark[labels == SCRATCH].mean()


def test_texture_suppression_cuts_false_positives_in_busy_areas() -> None:
    busy = (data.astronaut()[30:158, 170:298] / 255).astype(np.float32)
    assert detect(busy, texture=1.0).mean() < 0.5 * detect(busy, texture=0).mean()


def test_min_area_drops_small_specks() -> None:
    image = np.full((64, 64, 1), 0.5, np.float32)
    image[10, 10] = 1.0  # one-pixel speck
    image[40:43, 40:43] = 0.0  # nine-pixel spot
    mask = detect(image, min_area=5, dilate=0)
    assert mask[10, 10] == 0 and mask[40:43, 40:43].all() and mask.sum() == 9


@pytest.mark.parametrize("kind", ["gray", "rgb"])
@pytest.mark.parametrize("method", ["telea", "ns"])
def test_inpainting_cuts_error_in_the_damage(kind: str, method: str) -> None:
    clean = crop(kind)
    image, labels = damaged(clean)
    region = labels > 0
    restored = inpaint(image, cv2.dilate(region.astype(np.uint8), np.ones((3, 3))), method=method)
    before, after = (np.abs(x - clean)[region].mean() for x in (image, restored))
    assert after * 3 <= before, f"MAE {before:.4f} -> {after:.4f}"
    untouched = ~cv2.dilate(region.astype(np.uint8), np.ones((3, 3))).astype(bool)
    np.testing.assert_array_equal(restored[untouched], image[untouched])


@pytest.mark.parametrize("kind", ["gray", "rgb"])
def test_detected_mask_drives_inpainting(kind: str) -> None:
    clean = crop(kind)
    image, labels = damaged(clean, seed=2)
    restored = inpaint(image, detect(image))
    region = labels > 0
    before, after = (np.abs(x - clean)[region].mean() for x in (image, restored))
    assert after * 3 <= before, f"MAE {before:.4f} -> {after:.4f}"


def test_inpainting_runs_whole_through_the_tiler() -> None:
    image, labels = damaged(crop("rgb"))
    mask = (labels > 0).astype(np.float32)[..., None]
    inputs, params = {"image": image, "mask": mask}, OpenCVInpaintParams()
    tiled = run_stage(OpenCVInpaint(CPU), inputs, params, TileOptions(tile=48))["image"]
    np.testing.assert_array_equal(tiled, inpaint(image, mask[..., 0]))
