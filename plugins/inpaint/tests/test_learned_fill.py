"""The learned inpainter: an honest halo, exact pixels outside the mask, gray and colour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from restore.engine.tiling import TileOptions, run_stage
from restore.testing import measured_receptive_radius, synthetic_photo
from torch import nn

from restore_inpaint import gated, surrounding_colour
from restore_inpaint.learned_fill import LearnedFill, LearnedFillParams

CPU = torch.device("cpu")
NARROW = gated.GatedUNetConfig(widths=(8, 8, 8, 8))  # widths do not change the reach


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
    network_halo = LearnedFill.tiling.halo - surrounding_colour.REACH
    assert measured <= network_halo < measured + 3 * multiple
    assert network_halo == gated.SPEC.receptive_radius(gated.GatedUNetConfig())


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


def test_the_network_sees_what_the_damage_left_under_the_mask() -> None:
    """A stain or faint crack is cleaned from what it covers, not painted over blind:
    the masked pixels reach the fill, and never the pixels outside the mask."""
    torch.manual_seed(0)
    network = gated.SPEC.build(NARROW).eval()
    image = torch.rand(1, 3, 32, 32)
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:20, 8:20] = 1
    stained = image.clone()
    stained[..., 8:20, 8:20] *= 0.5
    with torch.no_grad():
        first = network(torch.cat([image, mask], 1))
        second = network(torch.cat([stained, mask], 1))
    inside = mask.expand_as(first) > 0.5
    torch.testing.assert_close(second[~inside], image[~inside], rtol=0, atol=0)
    assert not torch.allclose(first[inside], second[inside])


def test_fills_of_a_neutral_print_stay_neutral() -> None:
    """A gray photo stored as RGB gets gray fills, whatever colour the network paints."""
    gray = synthetic_photo(96, 128, seed=4).mean(axis=2, keepdims=True).repeat(3, axis=2)
    out = run_stage(
        RandomFill(CPU), {"image": gray, "mask": holes(96, 128)}, LearnedFillParams(), TileOptions()
    )["image"]
    painted = run_stage(  # the same network unguarded paints colour into the holes
        RandomFill(CPU),
        {"image": gray[..., :1], "mask": holes(96, 128)},
        LearnedFillParams(),
        TileOptions(),
    )["image"]
    assert np.ptp(out, axis=2).max() <= 3.01 / 255
    assert np.abs(out.mean(axis=2) - painted[..., 0]).max() < 1e-5


def test_fills_keep_the_colours_around_them() -> None:
    fill = torch.tensor([0.9, 0.2, 0.1]).view(1, 3, 1, 1).expand(1, 3, 40, 40)
    image = torch.zeros(1, 3, 40, 40)
    image[:, 0], image[:, 1] = 0.8, 0.3  # an orange-red scene
    image[:, :, ::2] = torch.tensor([0.2, 0.3, 0.9]).view(1, 3, 1, 1)  # striped with blue
    mask = torch.zeros(1, 1, 40, 40)
    mask[..., 15:25, 15:25] = 1
    guarded = surrounding_colour.within_surrounding_colour(fill, image, mask)
    torch.testing.assert_close(guarded, fill)  # red is among the colours around: kept
    neutral = surrounding_colour.within_surrounding_colour(fill, torch.full_like(image, 0.5), mask)
    torch.testing.assert_close(
        neutral, fill.mean(1, keepdim=True).expand_as(fill), atol=2 / 255, rtol=0
    )
