"""A blur kernel given as a file: ``deblur.unet``'s ``kernel_file``.

A PNG (gray, or RGB with the channels averaged; 8 or 16 bit) or a .npy 2-D
array. Negative values (an estimated kernel's noise) are set to 0, all-zero
rows and columns are trimmed evenly from opposite sides (so the centre pixel,
``(k - 1) // 2``, stays where it was), and the kernel is normalised to sum 1.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from restore.api import RestoreError
from restore.api.models import models

MAX_SIDE = 75  # the largest kernel, in px a side, whose deconvolution the tiles' halo holds
SUFFIXES = (".png", ".npy")


def _trim(kernel: np.ndarray) -> np.ndarray:
    """Drop the all-zero rows and columns that lie outside the support on both sides."""
    for axis in (0, 1):
        used = np.flatnonzero(kernel.any(axis=1 - axis))
        margin = min(used[0], kernel.shape[axis] - 1 - used[-1])
        kernel = np.take(kernel, range(margin, kernel.shape[axis] - margin), axis=axis)
    return kernel


def _read(path: Path) -> np.ndarray:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError("a blur kernel must be a .png or .npy file")
    if not path.is_file():
        raise ValueError("no such kernel file")
    if suffix == ".npy":
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise ValueError(f"not a readable .npy array ({error})") from None
        if array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
            raise ValueError(f"expected a 2-D numeric array, found shape {array.shape}")
        return np.asarray(array, np.float64)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError("not a readable PNG image")
    if image.ndim == 3:
        image = image[..., :3].mean(axis=2)  # equal channels: gray stored as RGB; alpha ignored
    return np.asarray(image, np.float64)


def read_kernel(path: Path) -> np.ndarray:
    """The normalised float32 kernel in ``path``; a one-line ``RestoreError`` naming the file
    when it cannot be read or is not a usable kernel."""
    try:
        kernel = _read(path)
        if not np.all(np.isfinite(kernel)):
            raise ValueError("the kernel holds NaN or infinite values")
        kernel = np.maximum(kernel, 0)
        if not kernel.any():
            raise ValueError("the kernel is all zero")
        kernel = _trim(kernel)
        if max(kernel.shape) > MAX_SIDE:
            height, width = kernel.shape
            raise ValueError(
                f"the kernel spans {height} x {width} px; at most {MAX_SIDE} x {MAX_SIDE} fit "
                "the tiles"
            )
    except ValueError as error:
        raise RestoreError(f"{path}: {error}") from None
    return (kernel / kernel.sum()).astype(np.float32)


def cached_kernel(path: Path) -> np.ndarray:
    """``read_kernel``, once per process for each version of the file (tiles share it)."""
    try:
        version = path.stat().st_mtime_ns
    except OSError:
        version = None  # read_kernel says what is wrong
    return models.get(
        ("deblur.kernel_file", str(path.absolute()), version), lambda: read_kernel(path)
    )
