"""Colour helpers for float32 H x W x C images (C == 1 gray or 3 RGB)."""

from __future__ import annotations

import math

import numpy as np

_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601
_GRAY_CHECK_PIXELS = 4_000_000  # is_grayscale looks at a strided subsample this large
_TONE_CHECK_PIXELS = 250_000  # is_toned_monochrome converts a subsample this large to CIELAB
_TONE_MAX_CHROMA = 50.0  # toned prints are low in chroma (95th percentile of C*ab)
_TONE_MIN_CHROMA = 5.0  # below this chroma a pixel's hue is noise
_TONE_OFF_HUE = 0.01  # at most this fraction of pixels more than 45 degrees off the tint's hue
_TONE_SPREAD = 6.0  # a*b* spread (90th percentile) around the tint of each lightness band


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


def is_grayscale(pixels: np.ndarray, tolerance: float = 2 / 255, *, tinted: bool = True) -> bool:
    """Whether an image is gray: 1 channel, RGB whose channels nearly agree, or a toned monochrome.

    An RGB image counts as gray when the 99th percentile over pixels of
    max(|R-G|, |G-B|, |R-B|) is at most ``tolerance``, which shrugs off a few
    noisy pixels and JPEG ringing. Huge images are judged on a strided
    subsample of about four megapixels.

    With ``tinted`` (the default), a toned monochrome print or scan (sepia,
    selenium, cyanotype) counts as gray too: see ``is_toned_monochrome``.
    """
    if _channels(pixels) == 1:
        return True
    sample = _subsample(pixels, _GRAY_CHECK_PIXELS)
    spread = sample.max(axis=-1) - sample.min(axis=-1)  # = the largest pairwise difference
    if spread.size == 0 or float(np.percentile(spread, 99)) <= tolerance:
        return True
    return tinted and is_toned_monochrome(pixels)


def is_toned_monochrome(pixels: np.ndarray) -> bool:
    """Whether an RGB image is a monochrome photo with one colour tone (sepia, cyanotype ...).

    Judged in CIELAB on a strided subsample of about a quarter megapixel: the
    image is toned monochrome when (1) almost all chromatic pixels (chroma
    above ``_TONE_MIN_CHROMA``) lie within 45 degrees of hue of the mean tint
    (fewer than ``_TONE_OFF_HUE`` of all pixels off it), (2) the chroma is low
    (95th percentile at most ``_TONE_MAX_CHROMA``) and (3) the tint is a
    function of lightness: within each of 20 L* bands, 90 % of the pixels are
    within ``_TONE_SPREAD`` of the band's mean a*b*. Ordinary colour photos,
    even muted ones, mix hues or vary in chroma at equal lightness.
    """
    from skimage.color import rgb2lab

    if _channels(pixels) == 1:
        return True
    sample = _subsample(pixels, _TONE_CHECK_PIXELS).reshape(-1, 1, 3)
    if sample.size == 0:
        return True
    lab = rgb2lab(np.clip(sample, 0, 1).astype(np.float64)).reshape(-1, 3)
    lightness, ab = lab[:, 0], lab[:, 1:]
    chroma = np.hypot(ab[:, 0], ab[:, 1])
    if float(np.percentile(chroma, 95)) > _TONE_MAX_CHROMA:
        return False
    tint = ab.mean(axis=0)
    hue_offset = np.angle(np.exp(1j * (np.arctan2(ab[:, 1], ab[:, 0]) - math.atan2(*tint[::-1]))))
    off_hue = (chroma > _TONE_MIN_CHROMA) & (np.abs(hue_offset) > math.pi / 4)
    if float(off_hue.mean()) >= _TONE_OFF_HUE:
        return False
    bands = np.clip((lightness * (20 / 100)).astype(np.int64), 0, 19)
    counts = np.maximum(np.bincount(bands, minlength=20), 1)
    means = np.stack([np.bincount(bands, ab[:, k], minlength=20) / counts for k in (0, 1)], 1)
    residual = np.hypot(*(ab - means[bands]).T)
    return float(np.percentile(residual, 90)) <= _TONE_SPREAD


def _subsample(pixels: np.ndarray, budget: int) -> np.ndarray:
    """A strided view of ``pixels`` with about ``budget`` pixels at most."""
    height, width = pixels.shape[:2]
    step = max(1, math.ceil(math.sqrt(height * width / budget)))
    return pixels[::step, ::step]


def _channels(pixels: np.ndarray) -> int:
    """The channel count of an H x W x C image, which must be 1 or 3."""
    if pixels.ndim != 3 or pixels.shape[-1] not in (1, 3):
        raise ValueError(f"expected an H x W x 1 or H x W x 3 image, got shape {pixels.shape}")
    return pixels.shape[-1]
