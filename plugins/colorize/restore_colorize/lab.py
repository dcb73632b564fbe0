"""sRGB <-> CIELAB (D65) conversion of N x 3 x H x W tensors, as in scikit-image.

``lab_to_rgb`` clips out-of-gamut colours channel by channel, which changes their
lightness; ``lab_to_rgb_in_gamut`` instead reduces the chroma of such colours
(same L* and hue), so the lightness of the result is exactly the L* given.
"""

from __future__ import annotations

import torch

XYZ_FROM_RGB = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
RGB_FROM_XYZ = torch.linalg.inv(XYZ_FROM_RGB.double()).float()
WHITE = torch.tensor([0.95047, 1.0, 1.08883])  # D65, 2 degree observer
DELTA = 6 / 29
GAMUT_TOLERANCE = 1e-6  # linear RGB this far outside [0, 1] still counts as in gamut
GAMUT_STEPS = 16  # bisection steps of the chroma scale: 1/65536 of the chroma


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] to L* in [0, 100] and a*, b* (about -128..127)."""
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = _mix(XYZ_FROM_RGB, linear) / _column(WHITE, rgb)
    f = torch.where(
        xyz > DELTA**3, xyz.clamp(min=DELTA**3) ** (1 / 3), xyz / (3 * DELTA**2) + 4 / 29
    )
    fx, fy, fz = f.unbind(1)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], 1)


def lab_to_linear(lab: torch.Tensor) -> torch.Tensor:
    """L*a*b* to linear-light RGB, not clipped (out-of-gamut colours leave [0, 1])."""
    lightness, a, b = lab.unbind(1)
    fy = (lightness + 16) / 116
    f = torch.stack([fy + a / 500, fy, fy - b / 200], 1)
    xyz = torch.where(f > DELTA, f**3, 3 * DELTA**2 * (f - 4 / 29)) * _column(WHITE, lab)
    return _mix(RGB_FROM_XYZ, xyz)


def linear_to_srgb(linear: torch.Tensor) -> torch.Tensor:
    """Linear-light RGB to sRGB, clipped to [0, 1]."""
    linear = linear.clamp(0, 1)
    srgb = torch.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return srgb.clamp(0, 1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """L*a*b* to sRGB, clipped to [0, 1] (out-of-gamut colours are clipped)."""
    return linear_to_srgb(lab_to_linear(lab))


def lab_to_rgb_in_gamut(lab: torch.Tensor) -> torch.Tensor:
    """L*a*b* to sRGB, keeping L*: out-of-gamut colours lose chroma (hue kept) until they fit.

    Per pixel, the largest scale s in [0, 1] with (L*, s a*, s b*) in the sRGB gamut
    is found by bisection (s = 0, gray, always fits), so the L* of the result
    equals the given L* up to float32 round-off.
    """
    linear = lab_to_linear(lab)
    outside = ~_in_gamut(linear)
    if bool(outside.any()):
        lightness, chroma = lab[:, :1], lab[:, 1:]
        low = torch.zeros_like(lightness)
        high = torch.ones_like(lightness)
        for _ in range(GAMUT_STEPS):
            middle = (low + high) / 2
            fits = _in_gamut(lab_to_linear(torch.cat([lightness, chroma * middle], 1)))
            low = torch.where(fits, middle, low)
            high = torch.where(fits, high, middle)
        fitted = lab_to_linear(torch.cat([lightness, chroma * low], 1))
        linear = torch.where(outside, fitted, linear)
    return linear_to_srgb(linear)


def _in_gamut(linear: torch.Tensor) -> torch.Tensor:
    """N x 1 x H x W: whether each pixel's linear RGB lies in [0, 1] (within the tolerance)."""
    inside = (linear >= -GAMUT_TOLERANCE) & (linear <= 1 + GAMUT_TOLERANCE)
    return inside.all(dim=1, keepdim=True)


def _mix(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", matrix.to(x), x)


def _column(vector: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return vector.to(like).view(1, 3, 1, 1)
