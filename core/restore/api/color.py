"""Colour helpers for float32 H x W x C images (C == 1 gray or 3 RGB)."""

from __future__ import annotations

import math

import cv2
import numpy as np

_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601
_CHROMA = (np.eye(3) - 1 / 3).astype(np.float32)  # RGB minus its channel mean
_SAMPLE_PIXELS = 500_000  # colour is judged on a strided subsample this large
_CELLS = 64  # ... averaged over a grid of this many cells along the long side
_MIN_CELL = 8  # ... each at least this many subsample pixels across
_COLOURED_SHARE = 1.0  # percent of cells that may be coloured in a gray image
_ERRORS = 6.0  # a cell is coloured this many standard errors above the tolerance
_TOLERANCE = 12 / 255  # RGB spread of a gray cell's mean colour, beyond its noise
_TONE_BANDS = 64  # toned monochrome: the tint is a function of the level, in bands
_TONE_SMOOTH = 5  # ... median-filtered over this many bands (a lone object is no tint)
_TONE_MAX_CHROMA = 50.0  # toned prints are low in chroma (C*ab of the tint)
_TONE_MIN_CHROMA = 5.0  # below this chroma the tint's hue is noise


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


def is_grayscale(pixels: np.ndarray, tolerance: float = _TOLERANCE, *, tinted: bool = True) -> bool:
    """Whether an image is gray: 1 channel, RGB without coloured regions, or a toned monochrome.

    Colour is judged on a grid of about 64 cells along the long side (each at
    least 8 x 8 pixels of a strided subsample of half a megapixel). A cell is
    coloured when the RGB spread (max - min) of its mean colour exceeds
    ``tolerance`` plus six standard errors of that mean, estimated from the
    chroma variance within the cell (counting 2 x 2 pixels as one sample, as
    4:2:0 JPEG shares chroma among them). The image is gray when at most 1 %
    of the cells are coloured. Averaging cancels per-channel noise and JPEG
    chroma ringing, a uniform cast within ``tolerance`` passes, and a coloured
    object over a few percent of the frame or a muted colour photo does not.

    With ``tinted`` (the default), a toned monochrome print or scan (sepia,
    selenium, cyanotype) counts as gray too: see ``is_toned_monochrome``.
    """
    if _channels(pixels) == 1 or pixels.size == 0:
        return True
    sample = _sample(pixels)
    if not _coloured(cv2.transform(sample, _CHROMA).reshape(sample.shape), tolerance):
        return True
    return tinted and _toned(sample, tolerance)


def is_toned_monochrome(pixels: np.ndarray) -> bool:
    """Whether an RGB image is a monochrome photo with one colour tone (sepia, cyanotype ...).

    The tint is the mean chroma (RGB minus its channel mean) of each of 64 bands
    of the channel mean, median-filtered over 5 bands. The image is toned monochrome when it
    is gray by ``is_grayscale``'s cell test once each pixel's chroma has its
    band's tint taken off, and the tint is muted and of one hue: the bands
    holding all but 1 % of the pixels have a tint of CIELAB chroma at most
    ``_TONE_MAX_CHROMA`` and, where it is above ``_TONE_MIN_CHROMA``, within 45
    degrees of the mean tint's hue. Ordinary colour photos, even muted ones,
    vary in colour at equal lightness or mix hues.
    """
    if _channels(pixels) == 1 or pixels.size == 0:
        return True
    return _toned(_sample(pixels), _TOLERANCE)


def _toned(sample: np.ndarray, tolerance: float) -> bool:
    """``is_toned_monochrome`` on a contiguous float32 RGB subsample."""
    from numpy.lib.stride_tricks import sliding_window_view
    from skimage.color import rgb2lab

    # Bands of the channel mean, which (unlike luma) is uncorrelated with the chroma of
    # per-channel noise: picking noisy pixels by it leaves each band's mean chroma unbiased.
    level = cv2.transform(sample, np.full((1, 3), 1 / 3, np.float32)).reshape(-1)
    band = np.clip((level * _TONE_BANDS).astype(np.intp), 0, _TONE_BANDS - 1)
    counts = np.bincount(band, minlength=_TONE_BANDS)
    used = counts > 0
    flat = sample.reshape(-1, 3)
    sums = np.stack([np.bincount(band, flat[:, k], minlength=_TONE_BANDS) for k in range(3)], 1)
    colours = sums[used] / counts[used, None]
    edge = _TONE_SMOOTH // 2
    padded = np.pad(colours @ _CHROMA, ((edge, edge), (0, 0)), mode="edge")
    tint = np.zeros((_TONE_BANDS, 3), np.float32)
    tint[used] = np.median(sliding_window_view(padded, _TONE_SMOOTH, axis=0), axis=-1)

    lab = rgb2lab(np.clip(colours.mean(axis=1, keepdims=True) + tint[used], 0, 1)[:, None])
    ab = lab.reshape(-1, 3)[:, 1:]
    share = counts[used] / counts.sum()
    chroma = np.hypot(ab[:, 0], ab[:, 1])
    hue = np.arctan2(ab[:, 1], ab[:, 0]) - math.atan2(*(share @ ab)[::-1])
    hue_offset = np.angle(np.exp(1j * hue))  # wrapped to [-pi, pi]
    off = (chroma > _TONE_MAX_CHROMA) | (
        (chroma > _TONE_MIN_CHROMA) & (np.abs(hue_offset) > math.pi / 4)
    )
    if float(share[off].sum()) * 100 > _COLOURED_SHARE:
        return False
    residual = cv2.transform(sample, _CHROMA) - tint[band].reshape(sample.shape)
    return not _coloured(residual, tolerance)


def _coloured(chroma: np.ndarray, tolerance: float) -> bool:
    """Whether more than ``_COLOURED_SHARE`` % of the cells of an H x W x 3 chroma map
    (a zero-sum colour offset per pixel) are coloured, as ``is_grayscale`` says."""
    height, width = chroma.shape[:2]
    cells = max(1, min(_CELLS, max(height, width) // _MIN_CELL))
    size = (
        max(1, round(width * cells / max(height, width))),
        max(1, round(height * cells / max(height, width))),
    )
    squares = cv2.transform(np.square(chroma), np.ones((1, 3), np.float32))
    means = cv2.resize(chroma, size, interpolation=cv2.INTER_AREA).reshape(-1, 3)
    mean_squares = cv2.resize(squares, size, interpolation=cv2.INTER_AREA).reshape(-1)
    # Per-channel noise of variance v makes the mean |chroma|^2 of a cell 2 v.
    variance = np.maximum(mean_squares - np.square(means).sum(axis=1), 0) / 2
    samples = max(1.0, height * width / (size[0] * size[1]) / 4)  # 2 x 2 share JPEG chroma
    excess = np.ptp(means, axis=1) - _ERRORS * np.sqrt(variance / samples)
    return float(np.percentile(excess, 100 - _COLOURED_SHARE)) > tolerance


def _sample(pixels: np.ndarray) -> np.ndarray:
    """A contiguous float32 strided subsample of ``pixels``, about ``_SAMPLE_PIXELS`` large."""
    height, width = pixels.shape[:2]
    step = max(1, math.ceil(math.sqrt(height * width / _SAMPLE_PIXELS)))
    return np.ascontiguousarray(pixels[::step, ::step], dtype=np.float32)


def _channels(pixels: np.ndarray) -> int:
    """The channel count of an H x W x C image, which must be 1 or 3."""
    if pixels.ndim != 3 or pixels.shape[-1] not in (1, 3):
        raise ValueError(f"expected an H x W x 1 or H x W x 3 image, got shape {pixels.shape}")
    return pixels.shape[-1]
