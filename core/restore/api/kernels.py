"""Blur kernels (point-spread functions): Gaussian, defocus disk and linear motion.

Each is a normalised float32 2-D array of odd side; the degradations blur with
them and the deconvolution stages invert them.
"""

from __future__ import annotations

import math

import numpy as np


def gaussian_kernel(sigma: float) -> np.ndarray:
    """Normalised 2-D Gaussian of side 2 * ceil(3 sigma) + 1 ([[1]] for sigma 0)."""
    radius = math.ceil(3 * sigma)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-(x**2) / (2 * sigma**2)) if sigma > 0 else np.ones(1)
    kernel = np.outer(g, g)
    return (kernel / kernel.sum()).astype(np.float32)


def disk_kernel(radius: float, supersample: int = 8) -> np.ndarray:
    """Normalised anti-aliased disk (defocus) of the given radius in pixels."""
    half = math.ceil(radius)
    sub = (np.arange(supersample) + 0.5) / supersample - 0.5
    x = (np.arange(-half, half + 1)[:, None] + sub).ravel()
    inside = (x[:, None] ** 2 + x[None, :] ** 2) <= max(radius, 0.5) ** 2
    n = 2 * half + 1
    kernel = inside.reshape(n, supersample, n, supersample).mean(axis=(1, 3))
    return (kernel / kernel.sum()).astype(np.float32)


def motion_kernel(length: float, angle: float) -> np.ndarray:
    """Normalised linear motion kernel: a segment of ``length`` px at ``angle`` degrees."""
    half = math.ceil(length / 2) + 1
    t = np.linspace(-length / 2, length / 2, max(2, int(length * 4)))
    xs = half + t * math.cos(math.radians(angle))
    ys = half - t * math.sin(math.radians(angle))
    kernel = np.zeros((2 * half + 2, 2 * half + 2))
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    for dy, dx, weight in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)),
                           (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):  # fmt: skip
        np.add.at(kernel, (y0 + dy, x0 + dx), weight)
    kernel = kernel[: 2 * half + 1, : 2 * half + 1]
    return (kernel / kernel.sum()).astype(np.float32)
