"""Quantised a*b* colour bins and the classification machinery of Zhang et al. (2016).

"Colorful Image Colorization": a*b* is quantised on a 10-unit grid over
[-110, 110]^2, keeping the bins that sRGB colours reach; the network predicts a
distribution over them, trained against soft-encoded targets (the 5 nearest
bins, Gaussian sigma 5) weighted by class rebalancing, and read out with the
annealed mean (temperature 0.38). ``confident_readout`` adds a fallback where the
predicted distribution is wide (the network does not know the colour).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

GRID = 10.0  # bin spacing in a*b* units
LIMIT = 110.0  # bin centres lie in [-LIMIT, LIMIT]
TEMPERATURE = 0.38  # annealed-mean temperature
NEIGHBOURS, SIGMA = 5, 5.0  # soft encoding: nearest bins and Gaussian kernel width
PRIOR_SIGMA, UNIFORM_MIX = 5.0, 0.5  # class rebalancing: prior smoothing and lambda
SHARPNESS = 6.0  # confident readout: how fast confidence falls past the spread limit


# The bins that sRGB colours reach: for each a* (bin centre), the first and last b*
# whose bins are reached (contiguous). Found by ``reachable_bins(256)``: 16.7 M sRGB
# colours, each assigned to its nearest grid bin; 261 bins.
_REACHED = (
    (-90, 80, 80), (-80, 40, 80), (-70, 20, 90), (-60, 0, 90), (-50, -20, 90),
    (-40, -30, 90), (-30, -40, 90), (-20, -40, 90), (-10, -50, 90), (0, -60, 90),
    (10, -70, 80), (20, -70, 80), (30, -80, 80), (40, -90, 80), (50, -90, 70),
    (60, -100, 70), (70, -110, 70), (80, -110, 70), (90, -90, 0), (100, -70, -50),
)  # fmt: skip


def reachable_bins(samples: int) -> np.ndarray:
    """Q x 2 centres of the grid bins that ``samples``^3 evenly spaced sRGB colours reach."""
    from skimage.color import rgb2lab

    side = round(2 * LIMIT / GRID) + 1
    reached = np.zeros((side, side), bool)
    levels = np.linspace(0, 1, samples)
    green, blue = np.meshgrid(levels, levels, indexing="ij")
    for red in levels:
        rgb = np.stack([np.full_like(green, red), green, blue], -1)
        ab = rgb2lab(rgb).reshape(-1, 3)[:, 1:]
        index = np.clip(np.round((ab + LIMIT) / GRID), 0, side - 1).astype(np.int64)
        reached[index[:, 0], index[:, 1]] = True
    a, b = np.nonzero(reached)
    return (np.stack([a, b], 1) * GRID - LIMIT).astype(np.float32)


@lru_cache(maxsize=1)
def _bin_centres() -> np.ndarray:
    """Q x 2 float32 centres of the in-gamut bins, ordered by a*, then b*."""
    centres = [(a, b) for a, first, last in _REACHED for b in range(first, last + 1, int(GRID))]
    return np.array(centres, np.float32)


def bin_centres(device: torch.device | str = "cpu") -> torch.Tensor:
    """The in-gamut bins' a*b* centres, Q x 2 (computed once, deterministically)."""
    return torch.from_numpy(_bin_centres()).to(device)


def bin_count() -> int:
    """Q, the number of in-gamut bins."""
    return len(_bin_centres())


def _squared_distances(ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """N x Q x H x W squared a*b* distances of each pixel (N x 2 x H x W) to each bin."""
    flat = ab.permute(0, 2, 3, 1)  # N x H x W x 2
    distances = (flat[..., None, :] - centres).pow(2).sum(-1)  # N x H x W x Q
    return distances.permute(0, 3, 1, 2)


def nearest_bin(ab: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """N x H x W index of the bin nearest to each pixel's a*b*."""
    return _squared_distances(ab, centres).argmin(1)


def soft_encode(
    ab: torch.Tensor, centres: torch.Tensor, neighbours: int = NEIGHBOURS, sigma: float = SIGMA
) -> torch.Tensor:
    """N x Q x H x W target distributions: the nearest bins weighted by a Gaussian kernel."""
    distances = _squared_distances(ab, centres)
    nearest, index = distances.topk(neighbours, dim=1, largest=False)
    weights = torch.softmax(-nearest / (2 * sigma**2), dim=1)
    return torch.zeros_like(distances).scatter_(1, index, weights)


def annealed_mean(
    probabilities: torch.Tensor, centres: torch.Tensor, temperature: float = TEMPERATURE
) -> torch.Tensor:
    """N x 2 x H x W a*b* from N x Q x H x W bin probabilities: the mean of ``p ** (1 / T)``."""
    logits = probabilities.clamp(min=1e-30).log()
    return readout(logits, centres, temperature)


def readout(
    logits: torch.Tensor, centres: torch.Tensor, temperature: float = TEMPERATURE
) -> torch.Tensor:
    """The annealed mean of ``softmax(logits)``: ``softmax(logits / T)`` averages the centres."""
    weights = torch.softmax(logits / temperature, dim=1)
    return torch.einsum("nqhw,qc->nchw", weights, centres.to(weights))


def spread(logits: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """N x 1 x H x W width of ``softmax(logits)`` in a*b*: ``sqrt(E ||c - E c||^2)``."""
    probabilities = torch.softmax(logits, dim=1)
    mean = torch.einsum("nqhw,qc->nchw", probabilities, centres.to(probabilities))
    square = torch.einsum("nqhw,q->nhw", probabilities, centres.to(probabilities).pow(2).sum(1))
    return (square[:, None] - mean.pow(2).sum(1, keepdim=True)).clamp(min=0).sqrt()


def confident_readout(
    logits: torch.Tensor,
    centres: torch.Tensor,
    spread_limit: float,
    fallback: Literal["neutral", "scene"] = "neutral",
    temperature: float = TEMPERATURE,
) -> torch.Tensor:
    """The annealed mean, pulled toward ``fallback`` where the distribution is wide.

    A pixel's confidence is ``1 / (1 + (spread / spread_limit) ** SHARPNESS)``
    (:func:`spread`; one half at the limit), and its a*b* goes that far from the
    fallback to the annealed mean. The fallback is neutral (a*b* = 0) or the
    scene's dominant colour: the confidence-weighted mean of the annealed means
    over each image. ``spread_limit`` 0 is the plain annealed mean.
    """
    ab = readout(logits, centres, temperature)
    if spread_limit <= 0:
        return ab
    confidence = 1 / (1 + (spread(logits, centres) / spread_limit) ** SHARPNESS)
    if fallback == "neutral":
        return confidence * ab
    total = confidence.sum((-2, -1), keepdim=True).clamp(min=1e-6)
    scene = (confidence * ab).sum((-2, -1), keepdim=True) / total
    return scene + confidence * (ab - scene)


def smoothed_prior(
    counts: torch.Tensor, centres: torch.Tensor, sigma: float = PRIOR_SIGMA
) -> torch.Tensor:
    """The empirical bin distribution (from ``counts``), smoothed by a Gaussian in a*b*."""
    distribution = counts.double() / counts.double().sum().clamp(min=1e-12)
    distances = (centres[:, None, :] - centres[None, :, :]).double().pow(2).sum(-1)
    kernel = torch.exp(-distances / (2 * sigma**2))
    kernel = kernel / kernel.sum(1, keepdim=True)  # each bin spreads its mass, which keeps the sum
    return distribution @ kernel


def rebalancing_weights(
    counts: torch.Tensor,
    centres: torch.Tensor,
    mix: float = UNIFORM_MIX,
    sigma: float = PRIOR_SIGMA,
) -> torch.Tensor:
    """Class-rebalancing weights: ``1 / ((1 - mix) p~ + mix / Q)``, scaled so E_p~[w] = 1.

    ``p~`` is the smoothed empirical distribution of ``counts``; rare (saturated)
    colours get large weights, so the network no longer prefers the common
    desaturated ones. Without counts yet, every weight is 1.
    """
    if float(counts.sum()) <= 0:
        return torch.ones(len(centres), dtype=torch.float32, device=counts.device)
    prior = smoothed_prior(counts, centres, sigma)
    weights = 1 / ((1 - mix) * prior + mix / len(centres))
    weights = weights / (prior * weights).sum()
    return weights.float()


def downsample(ab: torch.Tensor, factor: int) -> torch.Tensor:
    """Area-average a*b* by an integer factor (the network's output resolution)."""
    return ab if factor == 1 else F.avg_pool2d(ab, factor, ceil_mode=True)
