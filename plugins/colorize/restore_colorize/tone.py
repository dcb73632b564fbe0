"""Tone invariance: the L* the scene network sees does not depend on the print's tone.

``normalised_lightness`` maps any gray, sepia or faded print to the same L*: in
the sRGB gray domain (where fading is affine), the 0.5 and 99.5 percentiles go
to black and white, then a power curve takes the median to ``MEDIAN``. Fades,
sepia toning and tone curves are (close to) monotone maps of one gray image, so
they all come out within a fraction of an L* unit of each other.

``print_tones`` is the training side: from clean colour photos, the gray prints
they could have become (luma weights of different films, tone curves, fading,
sepia and other toning, grain, slight blur), so the network learns from the same
normalised L* whatever the print.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from restore_colorize.lab import lab_to_rgb, rgb_to_lab

PERCENTILES = (0.005, 0.5, 0.995)  # black point, median, white point
MEDIAN = 0.45  # the normalised median, as an sRGB gray value (L* about 48)
MIN_RANGE = 0.1  # a flatter image is stretched no more than this range would be
GAMMA_RANGE = (0.25, 4.0)  # the median's power curve stays within these exponents
BT601 = (0.299, 0.587, 0.114)
PLAIN = 0.25  # training: share of prints that are plain BT.601 gray, untouched


def gray_value(lightness: torch.Tensor) -> torch.Tensor:
    """The sRGB value in [0, 1] of a neutral gray with lightness L* (N x 1 x H x W)."""
    zero = torch.zeros_like(lightness)
    return lab_to_rgb(torch.cat([lightness, zero, zero], 1))[:, :1]


def lightness_of_gray(value: torch.Tensor) -> torch.Tensor:
    """L* of sRGB gray values (N x 1 x H x W)."""
    return rgb_to_lab(value.expand(-1, 3, -1, -1))[:, :1]


def normalised_lightness(lightness: torch.Tensor) -> torch.Tensor:
    """L* (N x 1 x H x W) with its black, white and median points normalised per image."""
    value = gray_value(lightness.float())
    levels = torch.tensor(PERCENTILES, device=value.device)
    low, middle, high = torch.quantile(value.flatten(1), levels, dim=1)[..., None, None, None]
    span = (high - low).clamp(min=MIN_RANGE)
    centre = (low + high) / 2

    def stretch(v: torch.Tensor) -> torch.Tensor:
        return (0.5 + (v - centre) / span).clamp(0, 1)

    median = stretch(middle).clamp(0.02, 0.98)
    gamma = (math.log(MEDIAN) / median.log()).clamp(*GAMMA_RANGE)
    return lightness_of_gray(stretch(value) ** gamma)


def _uniform(n: int, low: float, high: float, device: torch.device) -> torch.Tensor:
    return (low + (high - low) * torch.rand(n)).to(device).view(n, 1, 1, 1)


def _blur(image: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-image Gaussian blur (sigma N x 1 x 1 x 1, at most 1.5 px) of N x C x H x W."""
    offsets = torch.arange(-3, 4, device=image.device, dtype=image.dtype)
    kernel = torch.exp(-(offsets**2) / (2 * sigma.view(-1, 1) ** 2))
    kernel = kernel / kernel.sum(1, keepdim=True)  # N x 7
    n, c, h, w = image.shape
    flat = image.reshape(1, n * c, h, w)
    rows = kernel.repeat_interleave(c, 0)
    flat = F.conv2d(
        F.pad(flat, (3, 3, 0, 0), mode="replicate"), rows[:, None, None, :], groups=n * c
    )
    flat = F.conv2d(
        F.pad(flat, (0, 0, 3, 3), mode="replicate"), rows[:, None, :, None], groups=n * c
    )
    return flat.reshape(n, c, h, w)


def print_tones(rgb: torch.Tensor) -> torch.Tensor:
    """Random old-print versions (N x 3 x H x W sRGB) of clean colour photos ``rgb``.

    Each image becomes gray with random luma weights (about BT.601 or BT.709, or
    any mix, as orthochromatic or panchromatic film saw colour), gets a random
    tone curve and fading, then sepia, another toning or none, film grain and
    sometimes a slight blur. ``PLAIN`` of them stay plain BT.601 gray. Draws from
    torch's global generator, so a resumed training run repeats them.
    """
    n, device = len(rgb), rgb.device
    near = torch.tensor(BT601) + 0.06 * (torch.rand(n, 3) - 0.5)
    wide = torch.distributions.Dirichlet(torch.tensor([1.5, 3.0, 1.5])).sample((n,))
    weights = torch.where(torch.rand(n, 1) < 0.5, near, wide).clamp(min=0.01)
    weights = (weights / weights.sum(1, keepdim=True)).to(device).view(n, 3, 1, 1)
    gray = (rgb * weights).sum(1, keepdim=True).clamp(0, 1)
    gray = gray ** torch.exp(_uniform(n, -0.4, 0.4, device))  # tone curve: a power ...
    contrast = _uniform(n, -0.3, 0.3, device)  # ... and an S-curve (or its inverse)
    gray = (gray + contrast * (gray * gray * (3 - 2 * gray) - gray)).clamp(0, 1)
    black, white = _uniform(n, 0.0, 0.15, device), _uniform(n, 0.8, 1.0, device)
    gray = black + (white - black) * gray
    kind = torch.rand(n, 1, 1, 1).to(device)  # sepia (45 %), another tint (15 %), none
    strength = _uniform(n, 0.3, 1.0, device)
    sepia = torch.tensor([-0.15, 0.0, 0.35], device=device).view(1, 3, 1, 1)
    tint = 0.3 * (torch.rand(n, 3, 1, 1) - 0.5).to(device)
    exponent = 1 + strength * torch.where(kind < 0.45, sepia, torch.where(kind < 0.6, tint, 0))
    paper = 1 - strength * torch.where(
        kind < 0.45, torch.tensor([0.0, 0.03, 0.1], device=device).view(1, 3, 1, 1), 0
    )
    toned = gray.expand(-1, 3, -1, -1) ** exponent * paper
    toned = toned + _uniform(n, 0.0, 0.03, device) * torch.randn(toned.shape).to(device)
    blurred = _blur(toned, _uniform(n, 0.3, 1.2, device))
    toned = torch.where(torch.rand(n, 1, 1, 1).to(device) < 0.5, blurred, toned).clamp(0, 1)
    plain = (rgb * torch.tensor(BT601, device=device).view(1, 3, 1, 1)).sum(1, keepdim=True)
    keep = torch.rand(n, 1, 1, 1).to(device) < PLAIN
    return torch.where(keep, plain.expand(-1, 3, -1, -1), toned)
