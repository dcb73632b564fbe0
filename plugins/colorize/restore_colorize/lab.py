"""sRGB <-> CIELAB (D65) conversion of N x 3 x H x W tensors, as in scikit-image."""

from __future__ import annotations

import torch

XYZ_FROM_RGB = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
WHITE = torch.tensor([0.95047, 1.0, 1.08883])  # D65, 2 degree observer
DELTA = 6 / 29


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1] to L* in [0, 100] and a*, b* (about -128..127)."""
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = _mix(XYZ_FROM_RGB, linear) / _column(WHITE, rgb)
    f = torch.where(
        xyz > DELTA**3, xyz.clamp(min=DELTA**3) ** (1 / 3), xyz / (3 * DELTA**2) + 4 / 29
    )
    fx, fy, fz = f.unbind(1)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], 1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """L*a*b* to sRGB, clipped to [0, 1] (out-of-gamut colours are clipped)."""
    lightness, a, b = lab.unbind(1)
    fy = (lightness + 16) / 116
    f = torch.stack([fy + a / 500, fy, fy - b / 200], 1)
    xyz = torch.where(f > DELTA, f**3, 3 * DELTA**2 * (f - 4 / 29)) * _column(WHITE, lab)
    linear = _mix(torch.linalg.inv(XYZ_FROM_RGB), xyz).clamp(0, 1)
    srgb = torch.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return srgb.clamp(0, 1)


def _mix(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", matrix.to(x), x)


def _column(vector: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return vector.to(like).view(1, 3, 1, 1)
