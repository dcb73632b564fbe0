"""The learned inpainter: an honest halo, exact pixels outside the mask, gray and colour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from restore.engine.tiling import TileOptions, run_stage
from restore.testing import measured_receptive_radius, synthetic_photo
from torch import nn

from restore_inpaint import gated
from restore_inpaint.learned_fill import LearnedFill, LearnedFillParams

CPU = torch.device("cpu")
NARROW = gated.GatedUNetConfig(widths=(8, 8, 8))  # widths do not change the reach


class RandomFill(LearnedFill):
    """The stage with a seeded random network instead of the shipped weights."""

    def network(self, weights: Path | None) -> nn.Module:
        torch.manual_seed(0)
        return gated.SPEC.build(NARROW).eval()


def holes(height: int, width: int) -> np.ndarray:
    mask = np.zeros((height, width, 1), np.float32)
    mask[10:14, :] = 1  # a 4 px crack across the whole image
    mask[40:70, 50:60] = 1  # a 10 px wide gap
    return mask


def test_declared_halo_covers_the_measured_receptive_field() -> None:
    torch.manual_seed(0)
    multiple = gated.SPEC.multiple
    measured = measured_receptive_radius(gated.SPEC.build(NARROW), 4, 400, multiple)
    assert measured <= LearnedFill.tiling.halo < measured + 3 * multiple
    assert LearnedFill.tiling.halo == gated.SPEC.receptive_radius(gated.GatedUNetConfig())


@pytest.mark.parametrize("channels", [1, 3])
def test_pixels_outside_the_mask_are_kept_exactly(channels: int) -> None:
    image = synthetic_photo(96, 128, seed=3)[..., :channels]
    mask = holes(96, 128)
    out = run_stage(
        RandomFill(CPU), {"image": image, "mask": mask}, LearnedFillParams(), TileOptions(tile=0)
    )["image"]
    assert out.shape == image.shape
    keep = mask[..., 0] == 0
    np.testing.assert_array_equal(out[keep], image[keep])
    assert not np.allclose(out[~keep], image[~keep])  # the holes are painted


def test_tiles_are_exact(tiling_exactness) -> None:
    image = synthetic_photo(300, 340, seed=2)
    mask = np.zeros((300, 340, 1), np.float32)
    mask[100:130, 20:320] = 1
    mask[140:300:37, :] = 1
    tiling_exactness(RandomFill, image, tile=128, extra_inputs={"mask": mask})


def test_the_network_ignores_what_the_mask_covers() -> None:
    torch.manual_seed(0)
    network = gated.SPEC.build(NARROW).eval()
    image = torch.rand(1, 3, 32, 32)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:20, 8:20] = 1
    scribbled = image.clone()
    scribbled[..., 8:20, 8:20] = torch.rand(1, 3, 12, 12)
    with torch.no_grad():
        first = network(torch.cat([image, mask], 1))
        second = network(torch.cat([scribbled, mask], 1))
    torch.testing.assert_close(first, second)
