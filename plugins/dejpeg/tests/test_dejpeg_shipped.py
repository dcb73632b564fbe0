"""The shipped JPEG artifact removers: weights that verify, and a quick quality check on
photos they never saw (scikit-image's), gray and colour, at low and middling quality;
the flexible one's quality override trades smoothing for detail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from restore import Pipeline
from restore.api.network import NetworkSpec
from restore.api.weights import load_weights
from restore.engine.tiling import TileOptions, run_stage
from restore.io.images import read_image
from restore.lab.degrade import Jpeg
from restore.lab.metrics import psnr
from skimage import data

from restore_dejpeg import flexible, network
from restore_dejpeg.learned import (
    FlexibleDejpeg,
    FlexibleDejpegParams,
    LearnedDejpeg,
    LearnedDejpegParams,
)

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[3]
# dB over the JPEG on these crops; measured, cnn: q10 0.98 gray, 0.88 rgb; q30 1.57, 1.41;
# flexible: q10 1.57, 1.40; q30 1.68, 1.53
MIN_GAIN_DB = {
    LearnedDejpeg.name: {10: 0.6, 30: 1.0},
    FlexibleDejpeg.name: {10: 1.1, 30: 1.2},
}
SPECS: dict[str, tuple[NetworkSpec[Any], Any]] = {
    LearnedDejpeg.name: (network.SPEC, network.DejpegConfig()),
    FlexibleDejpeg.name: (flexible.SPEC, flexible.FlexibleConfig()),
}
STAGES = [(LearnedDejpeg, LearnedDejpegParams()), (FlexibleDejpeg, FlexibleDejpegParams())]


def photo(kind: str, size: int = 256) -> np.ndarray:
    """A crop of scikit-image's astronaut (RGB) or camera man (one-channel gray)."""
    image = data.astronaut() if kind == "rgb" else data.camera()[..., None]
    return image[100 : 100 + size, 120 : 120 + size].astype(np.float32) / 255


def compressed(clean: np.ndarray, quality: int) -> np.ndarray:
    jpeg, _, _ = Jpeg(quality=quality).run(clean, clean[..., 0], np.random.default_rng(0))
    return jpeg


@pytest.mark.parametrize("stage", [LearnedDejpeg, FlexibleDejpeg])
def test_shipped_weights_verify_and_match_the_stage(stage: Any) -> None:
    spec, config = SPECS[stage.name]
    path = Path(str(stage.weights_folder)) / f"{stage.shipped}.safetensors"
    _, manifest = load_weights(path, expect_stage=stage.name, expect_architecture=spec.architecture)
    assert spec.parse(manifest.config) == config
    assert manifest.training.command.startswith(f"restore train {stage.name} ")
    assert path.with_suffix(".md").is_file()


@pytest.mark.parametrize("quality", [10, 30])
@pytest.mark.parametrize("kind", ["gray", "rgb"])
@pytest.mark.parametrize(("stage", "params"), STAGES, ids=[s.name for s, _ in STAGES])
def test_shipped_network_removes_jpeg_artifacts(
    stage: Any, params: Any, kind: str, quality: int
) -> None:
    clean = photo(kind)
    jpeg = compressed(clean, quality)
    out = run_stage(stage(CPU), {"image": jpeg}, params, TileOptions())["image"]
    assert out.shape == jpeg.shape
    assert psnr(out, clean) - psnr(jpeg, clean) > MIN_GAIN_DB[stage.name][quality]


def test_a_lower_given_quality_smooths_more_and_the_true_one_does_well() -> None:
    clean = photo("rgb")
    jpeg = compressed(clean, 20)
    stage = FlexibleDejpeg(CPU)
    outputs = {
        quality: run_stage(stage, {"image": jpeg}, FlexibleDejpegParams(quality=quality))["image"]
        for quality in (5, 20, 90)
    }
    change = {quality: float(np.abs(out - jpeg).mean()) for quality, out in outputs.items()}
    assert change[5] > change[20] > change[90]
    assert psnr(outputs[20], clean) - psnr(jpeg, clean) > MIN_GAIN_DB[FlexibleDejpeg.name][10]


def test_the_example_pipeline_cleans_a_jpeg_file(tmp_path: Path) -> None:
    clean = np.round(photo("rgb", 128) * 255).astype(np.uint8)
    Image.fromarray(clean).save(tmp_path / "photo.jpg", quality=15)
    pipeline = Pipeline.from_yaml(ROOT / "examples" / "pipelines" / "dejpeg.yaml")
    saved = pipeline.run(tmp_path / "photo.jpg").save(tmp_path / "clean.png")
    before = read_image(tmp_path / "photo.jpg").pixels
    after = read_image(saved).pixels
    reference = clean.astype(np.float32) / 255
    assert psnr(after, reference) - psnr(before, reference) > MIN_GAIN_DB[FlexibleDejpeg.name][10]
