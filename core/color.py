"""Colour helpers for float32 H x W x C images (C == 1 gray or 3 RGB)."""

from __future__ import annotations

import math

import numpy as np

_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601
_GRAY_CHECK_PIXELS = 4_000_000  # is_grayscale looks at a strided subsample this large


def luma(pixels: np.ndarray) -> np.ndarray:
    """BT.601 luma as H x W x 1; a 1-channel image is returned as it is."""
    if _channels(pixels) == 1:
        return pixels
    return (pixels @ _LUMA_WEIGHTS)[..., None]


def to_channels(pixels: np.ndarray, channels: int) -> np.ndarray:
    """``pixels`` with 1 or 3 channels: gray is repeated, RGB is reduced to its luma."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, not {channels}")
    if _channels(pixels) == channels:
        return pixels
    return luma(pixels) if channels == 1 else np.repeat(pixels, 3, axis=-1)


def is_grayscale(pixels: np.ndarray, tolerance: float = 2 / 255) -> bool:
    """Whether an image is gray: 1 channel, or RGB whose channels nearly agree.

    An RGB image counts as gray when the 99th percentile over pixels of
    max(|R-G|, |G-B|, |R-B|) is at most ``tolerance``, which shrugs off a few
    noisy pixels and JPEG ringing. Huge images are judged on a strided
    subsample of about four megapixels.
    """
    if _channels(pixels) == 1:
        return True
    height, width = pixels.shape[:2]
    step = max(1, math.ceil(math.sqrt(height * width / _GRAY_CHECK_PIXELS)))
    sample = pixels[::step, ::step]
    spread = sample.max(axis=-1) - sample.min(axis=-1)  # = the largest pairwise difference
    return spread.size == 0 or float(np.percentile(spread, 99)) <= tolerance


def _channels(pixels: np.ndarray) -> int:
    """The channel count of an H x W x C image, which must be 1 or 3."""
    if pixels.ndim != 3 or pixels.shape[-1] not in (1, 3):
        raise ValueError(f"expected an H x W x 1 or H x W x 3 image, got shape {pixels.shape}")
    return pixels.shape[-1]
