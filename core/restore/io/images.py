"""Reading and writing image files.

Every image enters and leaves the project here. Pixels are float32 arrays in
[0, 1], H x W x C with C == 1 (gray) or 3 (RGB); alpha travels separately.
Pillow does the work, except where it would lose bit depth: 16-bit colour
PNG and TIFF are decoded with OpenCV (16-bit gray+alpha TIFF, which Pillow
cannot open, with tifffile), 16-bit PNG is encoded with OpenCV and TIFF is
written with tifffile.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import tifffile
from PIL import Image, TiffImagePlugin, UnidentifiedImageError

from restore.api.errors import ImageReadError, ImageWriteError
from restore.io.atomic import write_atomically

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
# Pillow's format name -> ours (MPO: a JPEG holding extra pictures, as cameras write).
_FORMAT_BY_PILLOW = {
    "PNG": "PNG",
    "JPEG": "JPEG",
    "MPO": "JPEG",
    "TIFF": "TIFF",
    "WEBP": "WEBP",
    "BMP": "BMP",
}
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
_GRAY16_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N"})
# What each Pillow mode becomes: gray, gray+alpha, RGB or RGBA.
_TARGET_MODE = {
    "1": "L",
    "L": "L",
    "LA": "LA",
    "La": "LA",
    "P": "RGB",
    "PA": "RGBA",
    "RGB": "RGB",
    "RGBA": "RGBA",
    "RGBa": "RGBA",
    "RGBX": "RGB",
    "CMYK": "RGB",
    "YCbCr": "RGB",
    "HSV": "RGB",
}
_ORIENTATION = 0x0112
_JPEG_APP1_MAX = 65533  # bytes of EXIF one JPEG APP1 segment can hold
_PNG_HEADER_END = 33  # 8-byte signature + 25-byte IHDR chunk


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


def format_for_suffix(path: str | Path) -> str:
    """The output format ("PNG", "JPEG", "TIFF", "WEBP", "BMP") for ``path``'s suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMAT_BY_SUFFIX:
        known = ", ".join(sorted(SUPPORTED_SUFFIXES))
        raise ImageWriteError(path, f"unsupported file type {suffix or '(none)'!r} (use {known})")
    return _FORMAT_BY_SUFFIX[suffix]


def read_image(path: str | Path) -> LoadedImage:
    """Decode ``path`` into float pixels, separate alpha, bit depth and ICC profile.

    Palette, CMYK, YCbCr and 1-bit images become RGB(A) or gray; the EXIF
    orientation is applied to pixels and alpha. The ICC profile is kept only
    when its colour space matches the pixels (GRAY or RGB): a CMYK profile
    does not survive the conversion to RGB.

    Raises ImageReadError (one line: path and reason) for any file that cannot
    be read completely: missing, not an image, truncated, corrupt or unsupported.
    """
    path = Path(path)
    try:
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
        samples, icc, fmt, orientation = _decode(path, data)
    except ImageReadError:
        raise
    except Exception as exc:
        raise ImageReadError(path, f"cannot decode image ({_one_line(exc)})") from exc

    if samples.ndim == 2:
        samples = samples[..., None]
    if samples.dtype not in (np.uint8, np.uint16):
        raise ImageReadError(path, f"unsupported sample type {samples.dtype}")
    if samples.size == 0:
        raise ImageReadError(path, "image has zero size")
    samples = _orient(samples, orientation)
    scale = 65535 if samples.dtype == np.uint16 else 255
    colour = 1 if samples.shape[2] <= 2 else 3
    pixels = samples[..., :colour].astype(np.float32, order="C")
    pixels /= scale
    alpha = None
    if samples.shape[2] in (2, 4):
        alpha = samples[..., colour].astype(np.float32, order="C")
        alpha /= scale
    return LoadedImage(
        pixels=pixels,
        alpha=alpha,
        bit_depth=16 if scale == 65535 else 8,
        icc_profile=icc if icc and _icc_fits(icc, colour) else None,
        format=fmt,
        path=path,
        exif=_upright_exif(data, fmt),
    )


def image_from_array(array: np.ndarray) -> LoadedImage:
    """An in-memory image: H x W or H x W x C (C 1-4; 2 and 4 carry alpha last),
    uint8, uint16 or float in [0, 1]."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an H x W or H x W x C array (C 1-4), got {array.shape}")
    if array.dtype == np.uint8:
        scaled, bit_depth = array.astype(np.float32) / 255, 8
    elif array.dtype == np.uint16:
        scaled, bit_depth = array.astype(np.float32) / 65535, 16
    else:
        scaled, bit_depth = np.clip(array, 0, 1, dtype=np.float32), 8
    colour = 1 if array.shape[2] <= 2 else 3
    alpha = np.ascontiguousarray(scaled[..., colour]) if array.shape[2] in (2, 4) else None
    pixels = np.ascontiguousarray(scaled[..., :colour])
    return LoadedImage(pixels, alpha, bit_depth, None, "PNG")


def write_output(
    path: str | Path,
    pixels: np.ndarray,
    source: LoadedImage,
    *,
    mask: bool = False,
    protect: Iterable[Path] = (),
) -> Path:
    """Write one pipeline output restored from ``source``: an image keeps the source's
    alpha (resized to the output when a stage changed the size), bit depth, ICC
    profile and EXIF; a mask is written as plain 8-bit gray."""
    if mask:
        return write_image(path, pixels, protect=protect)
    alpha = source.alpha
    height, width = np.shape(pixels)[:2]
    if alpha is not None and alpha.shape != (height, width):
        alpha = cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)
    return write_image(
        path,
        pixels,
        alpha=alpha,
        bit_depth=source.bit_depth,
        icc_profile=source.icc_profile,
        exif=source.exif,
        protect=protect,
    )


def write_image(
    path: str | Path,
    pixels: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    bit_depth: int = 8,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    quality: int = 95,
    protect: Iterable[Path] = (),
) -> Path:
    """Encode ``pixels`` (float H x W or H x W x C, C 1 or 3) into ``path`` atomically.

    The format follows the suffix. Values are clipped to [0, 1] and rounded to
    ``bit_depth`` (8 or 16; 16 only for PNG and TIFF, other formats get 8).
    ``alpha`` (H x W) is kept by PNG, TIFF and WebP and dropped by JPEG and BMP;
    16-bit PNG and WebP have no gray+alpha, so gray with alpha is stored as RGBA
    there (WebP also stores plain gray as RGB). ``quality`` applies to JPEG and
    (lossy) WebP; JPEG at quality >= 90 keeps full chroma resolution (4:4:4).
    ``icc_profile`` is embedded in PNG, JPEG, WebP and TIFF (not BMP) when its
    colour space (GRAY or RGB) matches the stored pixels. ``exif`` (with its
    orientation already reset, as ``read_image`` gives it) is embedded in JPEG,
    PNG and WebP. The file is encoded next to ``path`` and moved over
    it only once complete; parent folders are created. An existing file that
    resolves to a path in ``protect`` is never overwritten. Returns ``path``;
    raises ImageWriteError.
    """
    path = Path(path)
    fmt = format_for_suffix(path)
    if bit_depth not in (8, 16):
        raise ImageWriteError(path, f"bit depth must be 8 or 16, not {bit_depth}")
    if _is_protected(path, protect):
        raise ImageWriteError(path, "refusing to overwrite an input file")
    if fmt not in ("PNG", "TIFF"):
        bit_depth = 8
    if fmt in ("JPEG", "BMP"):
        alpha = None
    colour, alpha = _check_shapes(path, pixels, alpha)
    gray_alpha_16 = fmt == "PNG" and alpha is not None and bit_depth == 16
    if colour.shape[2] == 1 and (fmt == "WEBP" or gray_alpha_16):
        colour = np.repeat(colour, 3, axis=2)
    planes = [colour] if alpha is None else [colour, alpha[..., None]]
    samples = _quantize(np.concatenate(planes, axis=2) if len(planes) > 1 else colour, bit_depth)
    icc = icc_profile if icc_profile and _icc_fits(icc_profile, colour.shape[2]) else None

    def encode(fh: BinaryIO) -> None:
        _encode(fh, fmt, samples, icc, exif, quality)

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, encode)
    except ImageWriteError:
        raise
    except Exception as exc:
        raise ImageWriteError(path, f"cannot write {fmt} ({_one_line(exc)})") from exc
    return path


def _is_protected(path: Path, protect: Iterable[Path]) -> bool:
    """Whether ``path`` is an existing file that resolves to one of ``protect``."""
    if not os.path.lexists(path):  # nothing there to overwrite: skip resolving every entry
        return False
    target = path.resolve()
    return any(target == Path(p).resolve() for p in protect)


def _decode(path: Path, data: bytes) -> tuple[np.ndarray, bytes | None, str, object]:
    """Samples (gray, gray+alpha, RGB or RGBA; uint8 or uint16), ICC, format, orientation."""
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        if data[:4] in _TIFF_MAGIC:  # e.g. 16-bit gray+alpha, which Pillow cannot open
            return _decode_tifffile(path, data)
        raise ImageReadError(path, "not a recognised image file") from None
    with image:
        fmt = _FORMAT_BY_PILLOW.get(image.format or "")
        if fmt is None:
            raise ImageReadError(path, f"unsupported image format {image.format}")
        if image.width == 0 or image.height == 0:
            raise ImageReadError(path, "image has zero size")
        stored_orientation = image.getexif().get(_ORIENTATION, 1)
        image.load()  # decodes everything: truncated or corrupt data fails here
        # Pillow's TIFF load() applies the Orientation tag and drops it; others keep it.
        orientation = image.getexif().get(_ORIENTATION, 1)
        icc = image.info.get("icc_profile") or None
        if _source_bits(image, data) == 16 and image.mode in ("RGB", "RGBA"):
            # Pillow keeps only 8 bits of 16-bit colour samples.
            gray = fmt == "PNG" and data[25] == 4  # PNG colour type 4: gray + alpha
            return _decode_opencv(path, data, fmt, gray), icc, fmt, stored_orientation
        if image.mode in _GRAY16_MODES:
            return np.asarray(image, dtype=np.uint16), icc, fmt, orientation
        target = _TARGET_MODE.get(image.mode)
        if target is None:
            raise ImageReadError(path, f"unsupported pixel mode {image.mode}")
        if target in ("L", "RGB") and "transparency" in image.info:
            target += "A"
        pixels: Image.Image = image if image.mode == target else image.convert(target)
        return np.asarray(pixels), icc, fmt, orientation


def _source_bits(image: Image.Image, data: bytes) -> int:
    """Bits per sample stored in a PNG or TIFF file (8 for the other formats)."""
    if image.format == "PNG":
        return data[24]  # IHDR bit depth
    if image.format == "TIFF" and isinstance(image, TiffImagePlugin.TiffImageFile):
        bits = image.tag_v2.get(258, 8)
        return max(bits) if isinstance(bits, tuple) else int(bits)
    return 8


def _decode_opencv(path: Path, data: bytes, fmt: str, gray: bool) -> np.ndarray:
    """16-bit colour samples of a PNG or TIFF, RGB(A) order, orientation not applied."""
    if fmt == "TIFF":
        data = _without_tiff_orientation(data)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype != np.uint16 or decoded.ndim != 3:
        raise ImageReadError(path, "cannot decode 16-bit samples")
    if gray:  # OpenCV expands gray+alpha to BGRA
        return decoded[..., [0, 3]]
    return decoded[..., [2, 1, 0, 3][: decoded.shape[2]]]


def _without_tiff_orientation(data: bytes) -> bytes:
    """``data`` with its Orientation tag set to 1, for OpenCV to leave the samples as stored.

    OpenCV 5 turns TIFFs by their Orientation tag even with IMREAD_UNCHANGED
    (4.x does not); read_image applies the orientation itself.
    """
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        tag = tif.pages.first.tags.get(274)
        if tag is None or tag.dtype != tifffile.DATATYPE.SHORT:
            return data
        patched = bytearray(data)
        struct.pack_into(tif.byteorder + "H", patched, tag.valueoffset, 1)
        return bytes(patched)


def _decode_tifffile(path: Path, data: bytes) -> tuple[np.ndarray, bytes | None, str, object]:
    """Decode a TIFF that Pillow cannot open (gray, gray+alpha, RGB or RGBA only)."""
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        page = tif.pages.first
        photometric = tifffile.PHOTOMETRIC(page.photometric)
        if photometric not in (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.RGB):
            raise ImageReadError(path, f"unsupported TIFF photometric {photometric.name}")
        samples = page.asarray()
        if page.axes.startswith("S"):  # planar configuration: samples first
            samples = np.moveaxis(samples, 0, -1)
        channels = 1 if samples.ndim == 2 else samples.shape[2]
        allowed = (1, 2) if photometric == tifffile.PHOTOMETRIC.MINISBLACK else (3, 4)
        if samples.ndim not in (2, 3) or channels not in allowed:
            raise ImageReadError(path, f"unsupported TIFF layout {page.axes} {samples.shape}")
        icc = page.tags.valueof(34675)
        return samples, bytes(icc) if icc else None, "TIFF", page.tags.valueof(274, 1)


def _orient(samples: np.ndarray, orientation: object) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to H x W x C samples, giving upright ones."""
    if orientation == 2:
        return samples[:, ::-1]
    if orientation == 3:
        return samples[::-1, ::-1]
    if orientation == 4:
        return samples[::-1]
    if orientation == 5:
        return samples.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(samples, -1)
    if orientation == 7:
        return samples[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return np.rot90(samples)
    return samples


def _icc_fits(icc: bytes, channels: int) -> bool:
    """Whether an ICC profile's data colour space suits 1 (gray) or 3 (RGB) channels."""
    return icc[16:20] == (b"GRAY" if channels == 1 else b"RGB ")


def _check_shapes(
    path: Path, pixels: np.ndarray, alpha: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """``pixels`` as H x W x C (C 1 or 3) and ``alpha`` as H x W, or ImageWriteError."""
    colour = np.asarray(pixels)
    if colour.ndim == 2:
        colour = colour[..., None]
    if colour.ndim != 3 or colour.shape[2] not in (1, 3):
        raise ImageWriteError(path, f"pixels must have shape H x W x 1 or 3, not {colour.shape}")
    if colour.shape[0] == 0 or colour.shape[1] == 0:
        raise ImageWriteError(path, "image has zero size")
    if alpha is None:
        return colour, None
    alpha = np.asarray(alpha)
    if alpha.ndim == 3 and alpha.shape[2] == 1:
        alpha = alpha[..., 0]
    if alpha.shape != colour.shape[:2]:
        raise ImageWriteError(path, f"alpha shape {alpha.shape} does not match {colour.shape}")
    return colour, alpha


def _quantize(values: np.ndarray, bit_depth: int) -> np.ndarray:
    """Float samples clipped to [0, 1] and rounded to uint8 or uint16."""
    scaled = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0)
    np.clip(scaled, 0.0, 1.0, out=scaled)
    scaled *= 65535 if bit_depth == 16 else 255
    np.rint(scaled, out=scaled)
    return scaled.astype(np.uint16 if bit_depth == 16 else np.uint8)


def _encode(
    fh: BinaryIO,
    fmt: str,
    samples: np.ndarray,
    icc: bytes | None,
    exif: bytes | None,
    quality: int,
) -> None:
    """Write ``samples`` (H x W x C, C 1-4, alpha last) to ``fh`` as ``fmt``."""
    channels = samples.shape[2]
    if fmt == "TIFF":
        tifffile.imwrite(
            fh,
            samples[..., 0] if channels == 1 else samples,
            photometric="minisblack" if channels <= 2 else "rgb",
            extrasamples=("unassalpha",) if channels in (2, 4) else None,
            compression="zlib",
            predictor=True,
            iccprofile=icc,
            metadata=None,
        )
    elif samples.dtype == np.uint16:  # PNG: Pillow cannot write 16-bit colour
        bgr = samples[..., 0] if channels == 1 else samples[..., [2, 1, 0, 3][:channels]]
        ok, encoded = cv2.imencode(".png", np.ascontiguousarray(bgr))
        if not ok:
            raise ValueError("OpenCV could not encode a 16-bit PNG")
        png = encoded.tobytes()
        if icc:
            png = _with_chunk(png, b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc))
        if exif:
            png = _with_chunk(png, b"eXIf", exif.removeprefix(b"Exif\x00\x00"))
        fh.write(png)
    else:
        options: dict[str, object] = {"icc_profile": icc} if icc and fmt != "BMP" else {}
        fits = fmt in ("PNG", "WEBP") or (fmt == "JPEG" and len(exif or b"") <= _JPEG_APP1_MAX)
        if exif and fits:  # a JPEG APP1 segment holds at most 64 KiB
            options["exif"] = exif
        if fmt in ("JPEG", "WEBP"):
            options["quality"] = quality
        if fmt == "JPEG" and quality >= 90:
            options["subsampling"] = 0  # 4:4:4: keep full colour resolution at high quality
        if fmt == "WEBP":
            options["exact"] = True  # keep colour under transparent pixels
        Image.fromarray(samples[..., 0] if channels == 1 else samples).save(
            fh, format=fmt, **options
        )


def _upright_exif(data: bytes, fmt: str) -> bytes | None:
    """The EXIF block of a JPEG, PNG or WebP file with its orientation reset to 1
    (``read_image`` has turned the pixels upright); None when there is none."""
    if fmt not in ("JPEG", "PNG", "WEBP"):
        return None
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        if not exif:
            return None
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        return exif.tobytes()


def _with_chunk(png: bytes, kind: bytes, data: bytes) -> bytes:
    """``png`` with a chunk of type ``kind`` holding ``data`` inserted right after IHDR."""
    body = kind + data
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    return png[:_PNG_HEADER_END] + chunk + png[_PNG_HEADER_END:]


def _one_line(exc: BaseException) -> str:
    """An exception's message on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__
