"""The learned denoisers: honest halos, shipped weights that verify and clearly denoise."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from restore.api import StageUnavailable
from restore.api.weights import load_weights
from restore.app.cli.main import app
from restore.engine.tiling import TileOptions, run_stage
from restore.io.images import read_image, write_image
from restore.lab.degrade import load_recipe
from restore.lab.metrics import psnr
from restore.testing import measured_receptive_radius, synthetic_photo
from skimage import data
from torch import nn
from typer.testing import CliRunner

import restore_denoise.learned as learned
from restore_denoise.learned import DnCNNDenoise, LearnedDenoiseParams, MWCNNDenoise
from restore_denoise.mwcnn import haar_forward, haar_inverse

CPU = torch.device("cpu")
PIPELINE = str(Path(__file__).parents[3] / "examples" / "pipelines" / "denoise.yaml")
STAGES = [DnCNNDenoise, MWCNNDenoise]
NARROW = {DnCNNDenoise: {"width": 16}, MWCNNDenoise: {"widths": (8, 8, 8)}}


def random_weights(stage: type[learned.LearnedDenoiser]) -> type[learned.LearnedDenoiser]:
    """The stage with seeded random networks instead of the shipped weights."""

    class Random(stage):
        def network(self, channels: int, weights: Path | None = None) -> nn.Module:
            torch.manual_seed(channels)
            spec = self.network_spec
            return spec.build(spec.config(channels=channels, **NARROW[stage])).eval()

    return Random


def noisy_pair(channels: int, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """A crop of a natural photo shipped with scikit-image, with sigma-25 noise."""
    photo = data.astronaut() if channels == 3 else data.camera()[..., None]
    clean = photo[120 : 120 + size, 180 : 180 + size].astype(np.float32) / 255
    return load_recipe("noise-25").apply(clean, 0).image, clean


def test_haar_transform_is_invertible() -> None:
    x = torch.rand(2, 3, 8, 12)
    torch.testing.assert_close(haar_inverse(haar_forward(x)), x)
    assert haar_forward(x).pow(2).sum() == pytest.approx(float(x.pow(2).sum()), rel=1e-5)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("channels", [1, 3])
def test_halo_covers_the_receptive_field(stage, channels, tiling_exactness) -> None:
    image = synthetic_photo(600, 640, seed=1)[..., :channels]
    tiling_exactness(random_weights(stage), image, tile=160)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("channels", [1, 3])
def test_shipped_weights_denoise_clearly(stage, channels) -> None:
    noisy, clean = noisy_pair(channels)
    restored = run_stage(stage(CPU), {"image": noisy}, LearnedDenoiseParams(), TileOptions())
    gain = psnr(restored["image"], clean) - psnr(noisy, clean)
    assert gain > 6, f"{stage.name} gained only {gain:.2f} dB"


@pytest.mark.parametrize("stage", STAGES)
def test_declared_halo_is_the_measured_receptive_field(stage) -> None:
    spec = stage.network_spec
    config = spec.config()  # the shipped configuration, which the stage's descriptor is from
    narrow = spec.build(config.model_copy(update=NARROW[stage]))  # widths do not change the reach
    measured = measured_receptive_radius(narrow, 1, 320, spec.multiple)
    assert stage.tiling.halo == spec.receptive_radius(config)
    assert measured <= stage.tiling.halo < measured + spec.multiple


@pytest.mark.parametrize("stage", STAGES)
def test_shipped_weights_verify_and_match_their_stage(stage) -> None:
    for channels, stem in stage.shipped.items():
        _, manifest = load_weights(
            learned.WEIGHTS.joinpath(f"{stem}.safetensors"),
            expect_stage=stage.name,
            expect_architecture=stage.network_spec.architecture,
        )
        # the stage's descriptor is derived from the configuration the weights were built with
        assert stage.network_spec.parse(manifest.config) == stage.network_spec.config(
            channels=channels
        )
        assert manifest.training.command.startswith(f"restore train {stage.name}-")
        assert (Path(str(learned.WEIGHTS)) / f"{stem}.md").is_file()  # its model card


def test_strength_zero_is_identity() -> None:
    noisy, _ = noisy_pair(3, size=32)
    out = run_stage(
        DnCNNDenoise(CPU), {"image": noisy}, LearnedDenoiseParams(strength=0), TileOptions()
    )
    np.testing.assert_allclose(out["image"], noisy, atol=1e-6)


def test_corrupt_weights_make_the_stage_unavailable(tmp_path: Path, monkeypatch) -> None:
    source = Path(str(learned.WEIGHTS))
    for name in ("dncnn-gray.safetensors", "dncnn-gray.json"):
        shutil.copy(source / name, tmp_path / name)
    data = bytearray((tmp_path / "dncnn-gray.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "dncnn-gray.safetensors").write_bytes(bytes(data))
    monkeypatch.setattr(learned, "WEIGHTS", tmp_path)
    with pytest.raises(StageUnavailable, match="SHA-256 mismatch"):
        DnCNNDenoise(CPU).network(1)


def test_a_users_own_trained_weights_run_in_a_pipeline(tmp_path: Path) -> None:
    """`restore train` then `--set denoise.weights=...`; another architecture is refused."""
    cli = CliRunner()
    photos = tmp_path / "photos"
    for k in range(40):  # enough that the 5 % held out for validation is not empty
        write_image(photos / f"p{k}.png", synthetic_photo(72, 72, seed=k).mean(2))
    weights = tmp_path / "w.safetensors"
    trained = cli.invoke(
        app,
        [
            "train",
            "denoise.dncnn-gray",
            "--steps",
            "2",
            "--data",
            str(photos),
            "--out",
            str(weights),
        ],
    )
    assert trained.exit_code == 0, trained.output
    noisy, _ = noisy_pair(1, size=64)
    source = tmp_path / "noisy.png"
    write_image(source, noisy)
    runs = {}
    for name, extra in (("shipped", []), ("own", ["--set", f"denoise.weights={weights}"])):
        out = tmp_path / name
        result = cli.invoke(app, [PIPELINE, str(source), "-o", str(out), "-q", *extra])
        assert result.exit_code == 0, result.output
        runs[name] = read_image(out / "noisy.png").pixels
    assert np.abs(runs["own"] - runs["shipped"]).max() > 0.01  # 2 steps: not the shipped model

    mwcnn = learned.WEIGHTS.joinpath("mwcnn-gray.safetensors")
    for command in (["check", PIPELINE], [PIPELINE, str(source), "-o", str(tmp_path / "x")]):
        refused = cli.invoke(app, [*command, "--set", f"denoise.weights={mwcnn}"])
        assert refused.exit_code == 2
        lines = [line for line in refused.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "weights are for stage 'denoise.mwcnn'" in lines[0], lines
