"""The shared rules of learned stages: weights checks, the shipped file, and the
strength-scaled RGB correction (gray in, gray out)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import torch
from torch import nn

from restore.api import StageUnavailable
from restore.api.learned import CorrectionParams, RGBCorrection
from restore.api.network import NetworkConfig, NetworkSpec
from restore.testing import synthetic_photo

CPU = torch.device("cpu")


class ToyConfig(NetworkConfig):
    width: int = 4


def toy(config: ToyConfig) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, config.width, 3, padding=1), nn.Tanh(), nn.Conv2d(config.width, 3, 1)
    )


SPEC = NetworkSpec("Toy", ToyConfig, toy, receptive_radius=lambda config: 1)


class ToyCorrection(RGBCorrection[CorrectionParams]):
    name = "toy.correct"
    network_spec = SPEC
    weights_folder = resources.files("restore").joinpath("no-such-folder")
    shipped = "toy"
    tiling = SPEC.tiling(ToyConfig())


class SeededCorrection(ToyCorrection):
    def network(self, weights: Path | None) -> nn.Module:
        torch.manual_seed(0)
        return SPEC.build(ToyConfig()).eval()


@pytest.mark.parametrize("channels", [1, 3])
def test_strength_zero_is_the_input_and_strength_scales_the_correction(channels: int) -> None:
    image = torch.from_numpy(synthetic_photo(24, 32, seed=4)[..., :channels]).permute(2, 0, 1)
    batch = {"image": image[None].contiguous()}
    stage = SeededCorrection(CPU)
    out = {s: stage.process(batch, CorrectionParams(strength=s))["image"] for s in (0, 1, 2)}
    assert torch.equal(out[0], batch["image"]) and out[1].shape == batch["image"].shape
    inside = (out[2] > 0) & (out[2] < 1)  # not clipped
    torch.testing.assert_close((out[2] - out[0])[inside], 2 * (out[1] - out[0])[inside])
    assert (out[1] - out[0]).abs().max() > 1e-3


def test_a_gray_image_gets_the_mean_of_the_rgb_correction() -> None:
    gray = torch.from_numpy(synthetic_photo(24, 32, seed=2)[..., :1]).permute(2, 0, 1)[None]
    stage = SeededCorrection(CPU)
    with torch.inference_mode():
        out = stage.process({"image": gray.contiguous()}, CorrectionParams())["image"]
        correction = stage.network(None)(gray.expand(-1, 3, -1, -1)).mean(1, keepdim=True)
    assert out.shape == gray.shape
    torch.testing.assert_close(out, (gray + correction).clamp(0, 1))


def test_missing_shipped_weights_make_the_stage_unavailable(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(ToyCorrection, "weights_folder", tmp_path)
    with pytest.raises(StageUnavailable) as caught:
        ToyCorrection(CPU).network(None)
    assert str(caught.value) == (
        f"{tmp_path / 'toy'}.json: cannot read the weights manifest (no such file)"
    )


def test_a_users_weights_file_is_checked_before_any_image(tmp_path: Path) -> None:
    assert ToyCorrection.check(CorrectionParams()) == []
    (problem,) = ToyCorrection.check(CorrectionParams(weights=tmp_path / "w.pt"))
    assert "expected a .safetensors file" in problem
    (problem,) = ToyCorrection.check(CorrectionParams(weights=tmp_path / "none.safetensors"))
    assert problem == f"{tmp_path / 'none.safetensors'}: no such weights file"
