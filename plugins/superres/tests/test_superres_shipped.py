"""The shipped super-resolution weights: they verify, beat bicubic on photos they never
saw (scikit-image's), gray and colour, and run through the example pipelines; the
realistic network beats bicubic and the fidelity network on a real-world degradation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from restore import Pipeline
from restore.api.weights import load_weights
from restore.engine.tiling import TileOptions, run_stage
from restore.lab.degrade import antialiased_resize
from restore.lab.metrics import psnr
from skimage import data

from restore_superres import rrdb
from restore_superres.learned import (
    SuperRes,
    SuperResParams,
    SuperResRealX4,
    SuperResX2,
    SuperResX4,
)
from restore_superres.recipes import REAL_WORLD_X4

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[3]
STAGES: dict[int, type[SuperRes]] = {2: SuperResX2, 4: SuperResX4}
# Y-PSNR over bicubic on these crops; measured x2: 3.6 gray, 4.2 RGB; x4: 2.0, 2.3
MIN_GAIN_DB = {2: 2.5, 4: 1.2}
# Y-PSNR of the realistic network over bicubic and over the fidelity network on a
# real-world degradation of these crops; measured: 1.06 / 1.67 gray, 0.42 / 0.41 RGB
MIN_REAL_GAIN_DB = {"bicubic": 0.2, "fidelity": 0.2}


def photo(kind: str, size: int = 192) -> np.ndarray:
    """A crop of scikit-image's astronaut (RGB) or camera man (one-channel gray)."""
    image = data.astronaut() if kind == "rgb" else data.camera()[..., None]
    return image[100 : 100 + size, 120 : 120 + size].astype(np.float32) / 255


def upscaled_bicubic(low: np.ndarray, scale: int) -> np.ndarray:
    """Pillow's bicubic upscaling by ``scale``."""
    size = (low.shape[1] * scale, low.shape[0] * scale)
    return np.clip(antialiased_resize(low, size), 0, 1)


@pytest.mark.parametrize("stage", [SuperResX2, SuperResX4, SuperResRealX4])
def test_shipped_weights_verify_and_match_the_stage(stage: type[SuperRes]) -> None:
    scale = stage.tiling.scale
    path = Path(str(stage.weights_folder)) / f"{stage.shipped}.safetensors"
    _, manifest = load_weights(
        path, expect_stage=stage.name, expect_architecture=rrdb.SPECS[scale].architecture
    )
    assert rrdb.SPECS[scale].parse(manifest.config) == rrdb.RRDBConfig()
    assert manifest.training.command.startswith(f"restore train {stage.name} ")
    assert path.with_suffix(".md").is_file()


@pytest.mark.parametrize("kind", ["gray", "rgb"])
@pytest.mark.parametrize("scale", [2, 4])
def test_shipped_network_beats_bicubic(scale: int, kind: str) -> None:
    clean = photo(kind)
    size = clean.shape[0] // scale
    low = antialiased_resize(clean, (size, size))
    out = run_stage(STAGES[scale](CPU), {"image": low}, SuperResParams(), TileOptions())["image"]
    assert out.shape == clean.shape
    bicubic = upscaled_bicubic(low, scale)
    gain = psnr(out, clean, convention="y", border=scale) - psnr(
        bicubic, clean, convention="y", border=scale
    )
    assert gain > MIN_GAIN_DB[scale]


def y_psnr(image: np.ndarray, clean: np.ndarray) -> float:
    return psnr(image, clean, convention="y", border=4)


@pytest.mark.parametrize("kind", ["gray", "rgb"])
def test_the_realistic_network_cleans_what_it_enlarges(kind: str) -> None:
    clean = photo(kind)
    low = REAL_WORLD_X4.apply(clean, 3).image
    out = {
        name: run_stage(stage(CPU), {"image": low}, SuperResParams())["image"]
        for name, stage in (("real", SuperResRealX4), ("fidelity", SuperResX4))
    }
    real = y_psnr(out["real"], clean)
    assert real - y_psnr(upscaled_bicubic(low, 4), clean) > MIN_REAL_GAIN_DB["bicubic"]
    assert real - y_psnr(out["fidelity"], clean) > MIN_REAL_GAIN_DB["fidelity"]


@pytest.mark.parametrize("scale", [2, 4])
def test_the_example_pipeline_writes_the_enlarged_photo(scale: int, tmp_path: Path) -> None:
    small = np.round(photo("rgb", 48) * 255).astype(np.uint8)
    Image.fromarray(small).save(tmp_path / "small.jpg", quality=95)
    pipeline = Pipeline.from_yaml(ROOT / "examples" / "pipelines" / f"superres-x{scale}.yaml")
    saved = pipeline.run(tmp_path / "small.jpg").save(tmp_path / "large.jpg")
    with Image.open(saved) as out:
        assert out.size == (48 * scale, 48 * scale) and out.format == "JPEG"
