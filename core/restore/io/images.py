"""Reading and writing image files.

Every image enters and leaves the project here. Pixels are float32 arrays in
[0, 1], H x W x C with C == 1 (gray) or 3 (RGB); alpha travels separately, and
so do bit depth, ICC profile, EXIF and resolution, from each input to its
outputs. Which library decodes what is in ``restore.io.decode``, which encodes
what in ``restore.io.encode``.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image

from restore.api.errors import ImageReadError, ImageWriteError
from restore.io import metadata
from restore.io.atomic import write_atomically
from restore.io.decode import decode, megapixels, one_line
from restore.io.encode import encoder
from restore.io.limits import DEFAULT_MAX_PIXELS

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "SUPPORTED_SUFFIXES",
    "Encoded",
    "LoadedImage",
    "format_for_suffix",
    "image_from_array",
    "prepare_image",
    "prepare_output",
    "read_image",
    "write_image",
    "write_output",
]

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"}
)

_FORMAT_BY_SUFFIX = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
    ".bmp": "BMP",
}
# The most pixels per inch each format's resolution field holds (JPEG: JFIF's 16 bits).
_DPI_MAX = {"JPEG": 65_535, "BMP": 50_000_000, "PNG": 100_000_000, "TIFF": 100_000_000}
_FLOAT_SLACK = 0.01  # float input may overshoot [0, 1] by this much (and is clipped)


@dataclass
class LoadedImage:
    """A decoded image file."""

    pixels: np.ndarray  # float32 H x W x C, C 1 or 3, in [0, 1], EXIF orientation applied
    alpha: np.ndarray | None  # float32 H x W in [0, 1], None when the file has no alpha
    bit_depth: int  # 8 or 16: bit depth of the source samples
    icc_profile: bytes | None  # ICC profile of the source, to carry to outputs
    format: str  # "PNG", "JPEG", "TIFF", "WEBP" or "BMP"
    path: Path | None = None
    exif: bytes | None = None  # EXIF of the source, orientation reset to 1; None if it has none
    dpi: tuple[float, float] | None = None  # pixels per inch (x, y), upright; None if unknown
    frames: int = 1  # frames or pages in the file; only the first is decoded
    warnings: list[str] = field(default_factory=list)  # notes for the user from decoding


@dataclass
class Encoded:
    """An image encoded for ``path`` but not yet written: ``encode`` writes the
    complete file to an open binary file and fails only on I/O."""

    path: Path
    encode: Callable[[BinaryIO], None]
    warnings: list[str] = field(default_factory=list)  # what the format could not keep


def format_for_suffix(path: str | Path) -> str:
    """The output format ("PNG", "JPEG", "TIFF", "WEBP", "BMP") for ``path``'s suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMAT_BY_SUFFIX:
        known = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise ImageWriteError(path, f"unsupported file type {suffix or '(none)'!r} (use {known})")
    return _FORMAT_BY_SUFFIX[suffix]


_MAX_BYTES_PER_PIXEL = 8  # 16-bit RGBA, uncompressed
_MAX_EXTRA_BYTES = 64 << 20  # metadata, previews, padding


def read_image(path: str | Path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode ``path`` into float pixels, separate alpha, bit depth and metadata.

    Palette, CMYK, YCbCr and 1-bit images become RGB(A) or gray; the EXIF
    orientation is applied to pixels and alpha. The ICC profile is kept only
    when its colour space matches the pixels (GRAY or RGB): a CMYK profile
    does not survive the conversion to RGB. Pictures of more than
    ``max_pixels`` (None or 0: no limit) are refused from their header, before
    decoding. Multi-page and animated files give their first picture, with a
    note in ``warnings``.

    Raises ImageReadError (one line: path and reason) for any file that cannot
    be read completely: missing, not an image, truncated, corrupt, too large or
    unsupported.
    """
    path = Path(path)
    if max_pixels is not None and max_pixels < 0:
        raise ValueError(f"max_pixels must be positive, 0 or None, not {max_pixels}")
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ImageReadError(path, "is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise ImageReadError(path, "not a regular file (a pipe or device?)")
        if max_pixels and info.st_size > max_pixels * _MAX_BYTES_PER_PIXEL + _MAX_EXTRA_BYTES:
            raise ImageReadError(
                path,
                f"file of {info.st_size / 1e9:.3g} GB is larger than any image within the "
                f"pixel limit of {megapixels(max_pixels)} megapixels (--max-pixels)",
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageReadError(path, "file not found") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a directory, not a file") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot read file ({exc.strerror or exc})") from exc
    if not data:
        raise ImageReadError(path, "file is empty")
    try:
        decoded = decode(path, data, max_pixels)
    except ImageReadError:
        raise
    except Exception as exc:
        raise ImageReadError(path, f"cannot decode image ({one_line(exc)})") from exc

    samples = decoded.samples
    scale = 65535 if samples.dtype == np.uint16 else 255
    colour = 1 if samples.shape[2] <= 2 else 3
    pixels = samples[..., :colour].astype(np.float32, order="C")
    pixels /= scale
    alpha = None
    if samples.shape[2] in (2, 4):
        alpha = samples[..., colour].astype(np.float32, order="C")
        alpha /= scale
    icc = decoded.icc
    if icc and (mismatch := metadata.icc_mismatch(icc, colour)):
        decoded.warnings.append(mismatch)
        icc = None
    return LoadedImage(
        pixels=pixels,
        alpha=alpha,
        bit_depth=16 if scale == 65535 else 8,
        icc_profile=icc,
        format=decoded.format,
        path=path,
        exif=decoded.exif,
        dpi=decoded.dpi,
        frames=decoded.frames,
        warnings=decoded.warnings,
    )


def image_from_array(array: np.ndarray) -> LoadedImage:
    """An in-memory image: H x W or H x W x C (C 1-4; 2 and 4 carry alpha last).

    uint8 is read as 8-bit and uint16 as 16-bit samples; bool as 0 and 1; other
    integer types by their range (0-255: 8-bit, 0-65535: 16-bit). Floats must lie
    in [0, 1]. Raises ValueError for anything else, NaN and infinity included.
    """
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an H x W or H x W x C array (C 1-4), got {array.shape}")
    if array.dtype.kind not in "buif":
        raise ValueError(f"unsupported image array type {array.dtype}")
    if array.size == 0:
        raise ValueError(f"image array has zero size {array.shape}")
    scaled, bit_depth = _scaled(array)
    colour = 1 if array.shape[2] <= 2 else 3
    alpha = np.ascontiguousarray(scaled[..., colour]) if array.shape[2] in (2, 4) else None
    pixels = np.ascontiguousarray(scaled[..., :colour])
    return LoadedImage(pixels, alpha, bit_depth, None, "PNG")


def _scaled(array: np.ndarray) -> tuple[np.ndarray, int]:
    """A non-empty bool, integer or float array as float32 in [0, 1], and its bit depth."""
    if array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise ValueError("image array contains NaN or infinite values")
        low, high = float(array.min()), float(array.max())
        if low < -_FLOAT_SLACK or high > 1 + _FLOAT_SLACK:
            hint = ""
            if low >= 0:
                hint = " (divide by 255, or pass uint8)" if high <= 255 else " (divide by 65535)"
            raise ValueError(
                f"float image values must lie in [0, 1], got {low:g} .. {high:g}{hint}"
            )
        return np.clip(array, 0, 1, dtype=np.float32), 8
    if array.dtype.kind == "b" or array.dtype == np.uint8:
        scale = 1 if array.dtype.kind == "b" else 255
        return array.astype(np.float32) / scale, 8
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535, 16
    low, high = int(array.min()), int(array.max())
    if low < 0 or high > 65535:
        raise ValueError(
            f"integer image values must lie in 0 .. 255 or 0 .. 65535, got {low} .. {high}"
        )
    scale, bit_depth = (255, 8) if high <= 255 else (65535, 16)
    return array.astype(np.float32) / scale, bit_depth


def prepare_image(
    path: str | Path,
    pixels: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    bit_depth: int = 8,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    dpi: tuple[float, float] | None = None,
    quality: int = 95,
) -> Encoded:
    """Encode ``pixels`` (float H x W or H x W x C, C 1 or 3, in [0, 1]) for ``path``,
    checking everything first: writing the result can then fail only on I/O.

    The format follows the suffix. Values are clipped to [0, 1] and rounded to
    ``bit_depth`` (8 or 16; 16 only for PNG and TIFF, other formats get 8).
    ``alpha`` (H x W) is kept by PNG, TIFF and WebP and dropped by JPEG and BMP;
    16-bit PNG and WebP have no gray+alpha, so gray with alpha is stored as RGBA
    there (WebP also stores plain gray as RGB). ``quality`` applies to JPEG and
    (lossy) WebP; JPEG at quality >= 90 keeps full chroma resolution (4:4:4).
    ``icc_profile`` is embedded in PNG, JPEG, WebP and TIFF when its colour space
    (GRAY or RGB) matches the stored pixels. ``exif`` (with its orientation
    already reset, as ``read_image`` gives it) is embedded in JPEG (shrunk to fit
    64 KiB), PNG and WebP; TIFF keeps its descriptive IFD0 tags. ``dpi`` (pixels
    per inch, x and y) goes to every format but WebP, and into the EXIF
    resolution tags where the EXIF has them. Whatever the format cannot keep is
    named in the result's ``warnings``. Raises ImageWriteError.
    """
    path = Path(path)
    fmt = format_for_suffix(path)
    if bit_depth not in (8, 16):
        raise ImageWriteError(path, f"bit depth must be 8 or 16, not {bit_depth}")
    if not 0 <= quality <= 100:
        raise ImageWriteError(path, f"quality must be 0 to 100, not {quality}")
    dpi = _checked_dpi(path, dpi)
    colour, alpha = _check_shapes(path, pixels, alpha)
    notes: list[str] = []
    if bit_depth == 16 and fmt not in ("PNG", "TIFF"):
        notes.append(f"16-bit samples stored as 8-bit: {fmt} holds 8 bits per sample")
        bit_depth = 8
    if alpha is not None and fmt in ("JPEG", "BMP"):
        notes.append(f"alpha dropped: {fmt} has no transparency")
        alpha = None
    gray_alpha_16 = fmt == "PNG" and alpha is not None and bit_depth == 16
    if colour.shape[2] == 1 and (fmt == "WEBP" or gray_alpha_16):
        colour = np.repeat(colour, 3, axis=2)
    planes = colour if alpha is None else np.concatenate([colour, alpha[..., None]], axis=2)
    samples = _quantize(planes, bit_depth)
    icc = _icc_for(fmt, icc_profile, colour.shape[2], notes)
    exif, tiff_tags = _exif_for(fmt, exif, dpi, colour.shape[1::-1], notes)
    if dpi and fmt == "WEBP":
        dpi = None  # WebP has no resolution field: it went into the EXIF block
    if dpi and not all(1 <= value <= _DPI_MAX[fmt] for value in dpi):
        notes.append(f"resolution not stored: {fmt} holds 1 to {_DPI_MAX[fmt]:,} dpi")
        dpi = None
    encode = encoder(
        fmt, samples, icc=icc, exif=exif, dpi=dpi, tiff_tags=tiff_tags, quality=quality
    )
    return Encoded(path, encode, notes)


def prepare_output(
    path: str | Path, pixels: np.ndarray, source: LoadedImage, *, mask: bool = False
) -> Encoded:
    """``prepare_image`` for one pipeline output restored from ``source``: an image
    keeps the source's alpha, bit depth, ICC profile, EXIF and resolution, with
    alpha resized and resolution scaled when a stage changed the size (so the
    print size stays the same); a mask is plain 8-bit gray."""
    if mask:
        return prepare_image(path, pixels)
    shape = np.shape(pixels)
    alpha, dpi = source.alpha, source.dpi
    if len(shape) >= 2 and shape[:2] != source.pixels.shape[:2]:
        height, width = shape[:2]
        if alpha is not None:
            alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)
        if dpi:
            was_height, was_width = source.pixels.shape[:2]
            dpi = (dpi[0] * width / was_width, dpi[1] * height / was_height)
    return prepare_image(
        path,
        pixels,
        alpha=alpha,
        bit_depth=source.bit_depth,
        icc_profile=source.icc_profile,
        exif=source.exif,
        dpi=dpi,
    )


def write_output(
    path: str | Path,
    pixels: np.ndarray,
    source: LoadedImage,
    *,
    mask: bool = False,
    protect: Iterable[Path] = (),
) -> Path:
    """Write one pipeline output restored from ``source`` (see ``prepare_output``)
    atomically; ``protect`` as for ``write_image``. Returns ``path``."""
    return write_encoded(prepare_output(path, pixels, source, mask=mask), protect)


def write_image(
    path: str | Path,
    pixels: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    bit_depth: int = 8,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    dpi: tuple[float, float] | None = None,
    quality: int = 95,
    protect: Iterable[Path] = (),
) -> Path:
    """Encode ``pixels`` into ``path`` (see ``prepare_image``) atomically.

    The file is encoded next to ``path`` and moved over it only once complete;
    parent folders are created. An existing file that resolves to a path in
    ``protect`` is never overwritten. Returns ``path``; raises ImageWriteError.
    """
    encoded = prepare_image(
        path,
        pixels,
        alpha=alpha,
        bit_depth=bit_depth,
        icc_profile=icc_profile,
        exif=exif,
        dpi=dpi,
        quality=quality,
    )
    return write_encoded(encoded, protect)


def write_encoded(encoded: Encoded, protect: Iterable[Path] = ()) -> Path:
    """Write ``encoded`` atomically, never over a file in ``protect``."""
    path = encoded.path
    if _is_protected(path, protect):
        raise ImageWriteError(path, "refusing to overwrite an input file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, encoded.encode)
    except Exception as exc:
        fmt = format_for_suffix(path)
        raise ImageWriteError(path, f"cannot write {fmt} ({one_line(exc)})") from exc
    return path


def _is_protected(path: Path, protect: Iterable[Path]) -> bool:
    """Whether ``path`` is an existing file that resolves to one of ``protect``."""
    if not os.path.lexists(path):  # nothing there to overwrite: skip resolving every entry
        return False
    target = path.resolve()
    return any(target == Path(p).resolve() for p in protect)


def _check_shapes(
    path: Path, pixels: np.ndarray, alpha: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``pixels`` as H x W x C (C 1 or 3) and ``alpha`` as H x W, both finite floats
    (or bool), or ImageWriteError."""
    colour = np.asarray(pixels)
    if colour.ndim == 2:
        colour = colour[..., None]
    if colour.ndim != 3 or colour.shape[2] not in (1, 3):
        raise ImageWriteError(path, f"pixels must have shape H x W x 1 or 3, not {colour.shape}")
    if colour.shape[0] == 0 or colour.shape[1] == 0:
        raise ImageWriteError(path, "image has zero size")
    _check_values(path, "pixels", colour)
    if alpha is None:
        return colour, None
    alpha = np.asarray(alpha)
    if alpha.ndim == 3 and alpha.shape[2] == 1:
        alpha = alpha[..., 0]
    if alpha.shape != colour.shape[:2]:
        raise ImageWriteError(path, f"alpha shape {alpha.shape} does not match {colour.shape}")
    _check_values(path, "alpha", alpha)
    return colour, alpha


def _check_values(path: Path, name: str, values: np.ndarray) -> None:
    """Refuse samples that are not floats (or bool), or not finite."""
    if values.dtype.kind not in "fb":
        raise ImageWriteError(path, f"{name} must be floats in [0, 1], not {values.dtype}")
    if not np.isfinite(values).all():
        verb = "contain" if name == "pixels" else "contains"
        raise ImageWriteError(path, f"{name} {verb} NaN or infinite values")


def _quantize(values: np.ndarray, bit_depth: int) -> np.ndarray:
    """Float samples clipped to [0, 1] and rounded to uint8 or uint16."""
    scaled = np.array(values, dtype=np.float32)
    np.clip(scaled, 0.0, 1.0, out=scaled)
    scaled *= 65535 if bit_depth == 16 else 255
    np.rint(scaled, out=scaled)
    return scaled.astype(np.uint16 if bit_depth == 16 else np.uint8)


def _icc_for(fmt: str, icc: bytes | None, channels: int, notes: list[str]) -> bytes | None:
    """``icc`` if the output keeps it, else None with a note saying why."""
    if not icc:
        return None
    if fmt == "BMP":
        notes.append("ICC profile dropped: BMP output holds none")
        return None
    if mismatch := metadata.icc_mismatch(icc, channels):
        notes.append(mismatch)
        return None
    return icc


def _checked_dpi(path: Path, dpi: tuple[float, float] | None) -> tuple[float, float] | None:
    """``dpi`` as two positive finite floats, or ImageWriteError."""
    if dpi is None:
        return None
    try:
        x, y = (float(value) for value in dpi)
    except (TypeError, ValueError):
        raise ImageWriteError(path, f"dpi must be two numbers, not {dpi!r}") from None
    if not all(math.isfinite(value) and value > 0 for value in (x, y)):
        raise ImageWriteError(path, f"dpi must be positive, not {x:g} x {y:g}")
    return x, y


def _exif_for(
    fmt: str,
    exif: bytes | None,
    dpi: tuple[float, float] | None,
    size: tuple[int, int],
    notes: list[str],
) -> tuple[bytes | None, dict[int, str]]:
    """What the output keeps of ``exif``: a block for JPEG, PNG and WebP, ASCII tags
    for TIFF, with resolution and pixel dimensions made the output's (WebP, which
    has no resolution field, gets its DPI as EXIF tags); notes say what is lost."""
    webp_dpi = bool(dpi) and fmt == "WEBP"
    if not exif and not webp_dpi:
        return None, {}
    if fmt == "BMP":
        notes.append("EXIF dropped: BMP holds none")
        return None, {}
    try:
        tags = metadata.load_exif(exif) if exif else Image.Exif()
        if dpi:
            metadata.with_resolution(tags, dpi, add=webp_dpi)
        metadata.with_size(tags, *size)
        if fmt == "TIFF":
            kept, lost = metadata.tiff_tags(tags)
            notes += lost
            return None, kept
        if fmt == "JPEG":
            block, lost = metadata.fit_jpeg(tags)
            notes += lost
            return block, {}
        return tags.tobytes(), {}
    except Exception as exc:  # a damaged block is dropped, not a reason to fail
        notes.append(f"EXIF dropped: unreadable ({one_line(exc)})")
        return None, {}
