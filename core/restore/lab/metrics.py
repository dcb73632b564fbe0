"""Image quality metrics with the conventions of published restoration numbers.

``psnr`` and ``ssim`` take float32 H x W x C images (C 1 or 3) in [0, 1] and
first quantise both to 8 bit (round, clip), as denoising and super-resolution
papers do. ``convention="rgb"`` measures all channels; ``"y"`` measures the
BT.601 luma Y of YCbCr in the 16–235 range, as MATLAB's ``rgb2ycbcr`` (the
super-resolution convention; Y is kept in floating point, as BasicSR does).
Gray (1-channel) images are measured as they are under both conventions.
``border`` pixels are cropped from each side first. SSIM is Wang et al.'s:
Gaussian window of sigma 1.5, population covariances, data range 255.
``gmsd`` is Xue et al.'s gradient magnitude similarity deviation (2014) on Y: a
full-reference measure of how faithfully edges and texture are kept, which
tracks what people see better than PSNR on blur and false detail (lower is
better, 0 for equal images).

scikit-image does the computing; it is imported on first use.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Convention = Literal["rgb", "y"]
CONVENTIONS: tuple[str, ...] = ("rgb", "y")
SSIM_SIGMA = 1.5
_Y_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255  # MATLAB rgb2ycbcr, on 0-255 values


def describe_convention(convention: str = "rgb", border: int = 0) -> str:
    """The one-line description of a convention that reports print."""
    space = {"rgb": "RGB", "y": "Y (BT.601, 16-235)"}[_check(convention, border)]
    return f"PSNR/SSIM on 8-bit {space}, border {border}, SSIM: Gaussian window sigma {SSIM_SIGMA}"


def psnr(
    result: np.ndarray, reference: np.ndarray, *, convention: str = "rgb", border: int = 0
) -> float:
    """PSNR in dB of ``result`` against ``reference``; ``inf`` when they are equal in 8 bit."""
    from skimage.metrics import peak_signal_noise_ratio

    a, b = _prepare(result, reference, convention, border)
    if np.array_equal(a, b):
        return float("inf")  # skimage would also say inf, with a divide-by-zero warning
    return float(peak_signal_noise_ratio(b, a, data_range=255))


def ssim(
    result: np.ndarray, reference: np.ndarray, *, convention: str = "rgb", border: int = 0
) -> float:
    """Mean SSIM of ``result`` against ``reference`` (1.0 when they are equal in 8 bit)."""
    from skimage.metrics import structural_similarity

    a, b = _prepare(result, reference, convention, border)
    colour = a.shape[2] == 3
    return float(
        structural_similarity(
            b if colour else b[..., 0],
            a if colour else a[..., 0],
            gaussian_weights=True,
            sigma=SSIM_SIGMA,
            use_sample_covariance=False,
            data_range=255,
            channel_axis=2 if colour else None,
        )
    )


GMSD_C = 170.0  # Xue et al.'s stability constant, for 0-255 values


def gmsd(result: np.ndarray, reference: np.ndarray, *, border: int = 0) -> float:
    """GMSD of ``result`` against ``reference``: the standard deviation of the gradient
    magnitude similarity map on Y (Prewitt gradients after a 2 x 2 mean and 2 x downsampling)."""
    from skimage.filters import prewitt_h, prewitt_v

    a, b = _prepare(result, reference, "y", border)
    maps = []
    for image in (a[..., 0], b[..., 0]):
        height, width = (image.shape[0] // 2) * 2, (image.shape[1] // 2) * 2
        half = image[:height, :width].reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
        maps.append(np.hypot(prewitt_h(half), prewitt_v(half)))
    similarity = (2 * maps[0] * maps[1] + GMSD_C) / (maps[0] ** 2 + maps[1] ** 2 + GMSD_C)
    return float(similarity.std())


def colourfulness(image: np.ndarray) -> float:
    """Hasler and Süsstrunk's colourfulness of an RGB float image, on 8-bit values (gray: 0)."""
    pixels = _quantise(image)
    if pixels.shape[2] == 1:
        return 0.0
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    rg, yb = red - green, (red + green) / 2 - blue
    spread = np.hypot(rg.std(), yb.std())
    offset = np.hypot(rg.mean(), yb.mean())
    return float(spread + 0.3 * offset)


def to_y(pixels: np.ndarray) -> np.ndarray:
    """Y of YCbCr (16–235) of 8-bit RGB values, H x W x 1 float64; gray is returned as it is."""
    if pixels.shape[2] == 1:
        return pixels
    return (pixels @ _Y_WEIGHTS)[..., None] + 16


def _check(convention: str, border: int) -> str:
    if convention not in CONVENTIONS:
        raise ValueError(f"convention must be one of {', '.join(CONVENTIONS)}, not {convention!r}")
    if border < 0:
        raise ValueError(f"border must be >= 0, not {border}")
    return convention


def _quantise(image: np.ndarray) -> np.ndarray:
    """8-bit values (rounded, clipped) as float64 H x W x C."""
    array = np.asarray(image, dtype=np.float64)
    array = array[..., None] if array.ndim == 2 else array
    if array.ndim != 3 or array.shape[2] not in (1, 3):
        raise ValueError(f"expected an H x W x 1 or H x W x 3 image, got shape {array.shape}")
    return np.clip(np.round(array * 255), 0, 255)


def _prepare(
    result: np.ndarray, reference: np.ndarray, convention: str, border: int
) -> tuple[np.ndarray, np.ndarray]:
    _check(convention, border)
    a, b = _quantise(result), _quantise(reference)
    if a.shape != b.shape:
        raise ValueError(f"image shape {a.shape} does not match the reference's {b.shape}")
    if convention == "y":
        a, b = to_y(a), to_y(b)
    if border:
        if min(a.shape[:2]) <= 2 * border:
            raise ValueError(f"border {border} leaves nothing of a {a.shape[0]}x{a.shape[1]} image")
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    return a, b
