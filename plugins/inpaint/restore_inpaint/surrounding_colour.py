"""Keep a fill's colour within the colours of the undamaged pixels around it.

A network trained on colour photos can paint a blue or green cast into a hole of a
gray or sepia print (a bright stain looks like sky to it). The fill keeps its own
luma; its chroma (RGB minus luma) is held within the mean plus or minus two
standard deviations of the undamaged chroma within ``REACH`` px, so a neutral
print gets neutral fills and a colourful scene keeps the network's colours. Holes
wider than the window keep the network's chroma at their centre.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

REACH = 32  # px around a filled pixel whose undamaged colours bound its colour
SPREAD = 2.0  # standard deviations of the surrounding chroma a fill may stray
TOLERANCE = 1 / 255  # chroma a fill may always carry, even in a neutral print


def _window_sum(values: torch.Tensor) -> torch.Tensor:
    """Sums of ``values`` over the (2 REACH + 1)^2 window of each pixel (zeros beyond)."""
    size = 2 * REACH + 1
    rows = F.avg_pool2d(values, (1, size), stride=1, padding=(0, REACH), count_include_pad=True)
    return F.avg_pool2d(rows, (size, 1), stride=1, padding=(REACH, 0), count_include_pad=True)


def within_surrounding_colour(
    fill: torch.Tensor, image: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """``fill`` (N x 3 x H x W) with its chroma bounded by ``image``'s outside ``mask``."""
    keep = 1 - mask
    chroma = image - image.mean(dim=1, keepdim=True)
    luma_fill = fill.mean(dim=1, keepdim=True)
    weight = _window_sum(keep)
    seen = weight > 1e-6
    total = weight.clamp_min(1e-6)
    mean = _window_sum(chroma * keep) / total
    variance = (_window_sum(chroma.square() * keep) / total - mean.square()).clamp_min(0)
    spread = SPREAD * variance.sqrt() + TOLERANCE
    fill_chroma = fill - luma_fill
    bounded = torch.minimum(torch.maximum(fill_chroma, mean - spread), mean + spread)
    bounded = bounded - bounded.mean(dim=1, keepdim=True)  # the fill's luma is kept
    return luma_fill + torch.where(seen, bounded, fill_chroma)
