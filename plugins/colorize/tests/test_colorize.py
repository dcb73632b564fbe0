"""Tests of the restore-colorize plugin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from pydantic import ValidationError
from restore import Channels, StageUnavailable, TilePolicy
from restore.plugins import Registry
from restore.tiling import TileOptions, run_stage
from skimage import color, data

import restore_colorize
from restore_colorize import unet
from restore_colorize.lab import lab_to_rgb, rgb_to_lab
from restore_colorize.network import ColorizeUNet
from restore_colorize.unet import UNetColorize, UNetColorizeParams

CPU = torch.device("cpu")
MISSING = (
    "colorize.unet: no trained weights installed "
    "(expected restore_colorize/weights/colorize_unet.safetensors)"
)


def astronaut() -> torch.Tensor:
    """A 1 x 3 x 64 x 64 RGB crop."""
    image = data.astronaut()[:256:4, 128:384:4] / 255
    return torch.from_numpy(image).float().permute(2, 0, 1)[None].contiguous()


@pytest.fixture
def random_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install untrained weights of the right architecture in place of the missing file."""
    torch.manual_seed(0)
    path = tmp_path / "colorize_unet.safetensors"
    safetensors.torch.save_file(ColorizeUNet().state_dict(), path)
    monkeypatch.setattr(unet, "WEIGHTS", path)


def test_registers_through_the_plugin_hook() -> None:
    registry = Registry.from_plugins(restore_colorize)
    assert not list(registry.broken())
    assert set(registry.stages) == {"colorize.unet"}


def test_installed_entry_point_provides_the_stages() -> None:
    registry = Registry.from_entry_points({"RESTORE_PLUGINS": "colorize"})
    assert [(info.name, info.error) for info in registry.plugins if not info.skipped] == [
        ("colorize", None)
    ]
    assert set(registry.stages) == {"colorize.unet"}


def test_declares_ports_and_lowres_tiling() -> None:
    assert UNetColorize.inputs["image"].channels is Channels.ANY
    assert UNetColorize.outputs["image"].channels is Channels.RGB
    assert UNetColorize.tiling.policy is TilePolicy.LOWRES
    assert UNetColorize.tiling.working_size == UNetColorizeParams().working_size == 512


@pytest.mark.parametrize(
    "bad", [{"saturation": 1}, {"strength": -0.5}, {"strength": 2.5}, {"working_size": 32}]
)
def test_params_reject_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        UNetColorizeParams(**bad)


def test_missing_weights_raise_stage_unavailable() -> None:
    assert not unet.WEIGHTS.is_file()
    with pytest.raises(StageUnavailable) as raised:
        UNetColorize(CPU).process({"image": torch.rand(1, 1, 32, 32)}, UNetColorizeParams())
    assert str(raised.value) == MISSING


@pytest.mark.usefixtures("random_weights")
@pytest.mark.parametrize("channels", [1, 3])
def test_outputs_rgb_of_any_size(channels: int) -> None:
    image = torch.rand(2, channels, 37, 50)
    out = UNetColorize(CPU).process({"image": image}, UNetColorizeParams())["image"]
    assert out.shape == (2, 3, 37, 50) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.usefixtures("random_weights")
def test_strength_zero_keeps_the_gray_image() -> None:
    gray = astronaut().mean(1, keepdim=True)
    out = UNetColorize(CPU).process({"image": gray}, UNetColorizeParams(strength=0))["image"]
    torch.testing.assert_close(out, gray.expand(-1, 3, -1, -1), atol=1e-4, rtol=0)


def test_lab_matches_scikit_image_and_round_trips() -> None:
    rgb = astronaut()
    lab = rgb_to_lab(rgb)
    expected = color.rgb2lab(rgb[0].permute(1, 2, 0).double().numpy())
    np.testing.assert_allclose(lab[0].permute(1, 2, 0).numpy(), expected, atol=2e-3)
    torch.testing.assert_close(lab_to_rgb(lab), rgb, atol=1e-4, rtol=0)


def test_transfer_keeps_full_resolution_lightness() -> None:
    full = astronaut()
    low = torch.nn.functional.interpolate(full, size=(16, 16), mode="area")
    out = UNetColorize(CPU).transfer({"image": full}, {"image": low}, UNetColorizeParams())
    lab_out, lab_full = rgb_to_lab(out["image"]), rgb_to_lab(full)
    lightness_error = (lab_out[:, 0] - lab_full[:, 0]).abs().mean()
    assert out["image"].shape == full.shape and lightness_error < 1.0
    low_chroma = rgb_to_lab(low)[:, 1:].mean((-2, -1))
    torch.testing.assert_close(lab_out[:, 1:].mean((-2, -1)), low_chroma, atol=2.0, rtol=0)


@pytest.mark.usefixtures("random_weights")
def test_tiler_colorizes_a_working_copy_and_keeps_full_resolution_lightness() -> None:
    gray = astronaut().mean(1)[0, ..., None].numpy()  # 64 x 64 x 1
    params = UNetColorizeParams(working_size=64)
    image = np.ascontiguousarray(np.tile(gray, (2, 3, 1)))  # 128 x 192, halved for the network
    out = run_stage(UNetColorize(CPU), {"image": image}, params, TileOptions())["image"]
    assert out.shape == (128, 192, 3)
    lightness = rgb_to_lab(torch.from_numpy(out).permute(2, 0, 1)[None])[:, 0]
    expected = rgb_to_lab(torch.from_numpy(image).permute(2, 0, 1)[None].expand(-1, 3, -1, -1))
    assert (lightness - expected[:, 0]).abs().mean() < 1.0
