"""The learned damage detector: an honest halo, thresholding and dilation, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from restore.api import StageUnavailable
from restore.engine.tiling import TileOptions, run_stage
from restore.testing import measured_receptive_radius, synthetic_photo
from torch import nn

from restore_inpaint import unet
from restore_inpaint.learned_mask import MAX_DILATE, LearnedMask, LearnedMaskParams

CPU = torch.device("cpu")
NARROW = unet.DamageUNetConfig(widths=(8, 8, 8, 8))  # widths do not change the reach


class RandomMask(LearnedMask):
    """The stage with a seeded random network instead of the shipped weights."""

    def network(self, weights: Path | None) -> nn.Module:
        torch.manual_seed(0)
        return unet.SPEC.build(NARROW).eval()


class Spot(nn.Module):
    """Logits that mark one pixel as certain damage and everything else as clean."""

    def forward(self, luma: torch.Tensor) -> torch.Tensor:
        logits = torch.full_like(luma, -10.0)
        logits[..., 20, 30] = 10.0
        logits[..., 5, 5] = 0.3  # probability 0.57: marked only under a lower threshold
        return logits


class SpotMask(LearnedMask):
    def network(self, weights: Path | None) -> nn.Module:
        return Spot()


def test_declared_halo_covers_the_measured_receptive_field() -> None:
    torch.manual_seed(0)  # a seeded network: no ReLU dead along the paths that reach furthest
    measured = measured_receptive_radius(unet.SPEC.build(NARROW), 1, 320, unet.SPEC.multiple)
    declared = unet.SPEC.receptive_radius(unet.DamageUNetConfig())
    assert measured <= declared < measured + 2 * unet.SPEC.multiple
    assert LearnedMask.tiling.halo == declared + MAX_DILATE  # the dilation reaches further
    assert LearnedMaskParams.model_json_schema()["properties"]["dilate"]["maximum"] == MAX_DILATE


def test_tiles_are_exact(tiling_exactness) -> None:
    """On luma: the executor gives the stage its gray input port's one channel."""
    tiling_exactness(RandomMask, synthetic_photo(300, 340, seed=2)[..., :1], tile=128)


@pytest.mark.parametrize(
    ("dilate", "threshold", "marked"), [(0, 0.5, 2), (0, 0.6, 1), (2, 0.6, 25)]
)
def test_threshold_and_dilate(dilate: int, threshold: float, marked: int) -> None:
    image = np.full((40, 48, 1), 0.5, np.float32)
    params = LearnedMaskParams(dilate=dilate, threshold=threshold)
    mask = run_stage(SpotMask(CPU), {"image": image}, params, TileOptions(tile=0))["mask"]
    assert set(np.unique(mask)) == {0.0, 1.0} and int(mask.sum()) == marked
    assert mask[20, 30, 0] == 1


def test_probability_output_is_the_soft_mask() -> None:
    image = np.full((40, 48, 1), 0.5, np.float32)
    params = LearnedMaskParams(output="probability")
    soft = run_stage(SpotMask(CPU), {"image": image}, params, TileOptions(tile=0))["mask"]
    assert soft[20, 30, 0] == pytest.approx(1, abs=1e-4)
    assert soft[5, 5, 0] == pytest.approx(torch.sigmoid(torch.tensor(0.3)).item(), abs=1e-6)
    assert soft.max() <= 1 and soft.min() >= 0


def test_missing_weights_make_the_stage_unavailable(tmp_path: Path) -> None:
    params = LearnedMaskParams(weights=tmp_path / "none.safetensors")
    image = np.full((16, 16, 1), 0.5, np.float32)
    with pytest.raises(StageUnavailable, match=r"none\.(json|safetensors)"):
        run_stage(LearnedMask(CPU), {"image": image}, params, TileOptions(tile=0))
