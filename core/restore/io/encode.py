"""Encoders: quantized samples and checked metadata in, a function writing the file out.

Pillow writes 8-bit PNG, JPEG, WebP and BMP; OpenCV writes 16-bit PNG (Pillow
cannot write 16-bit colour), with the ICC, EXIF and resolution chunks added
here; tifffile writes TIFF.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from typing import Any, BinaryIO

import cv2
import numpy as np
import tifffile
from PIL import Image

_PNG_HEADER_END = 33  # 8-byte signature + 25-byte IHDR chunk
_INCHES_PER_METRE = 1 / 0.0254

Encoder = Callable[[BinaryIO], None]


def encoder(
    fmt: str,
    samples: np.ndarray,
    *,
    icc: bytes | None,
    exif: bytes | None,
    dpi: tuple[float, float] | None,
    tiff_tags: dict[int, str],
    quality: int,
) -> Encoder:
    """A function writing ``samples`` (H x W x C, C 1-4, alpha last; uint8, or uint16
    for PNG and TIFF) as a complete ``fmt`` file. ``tiff_tags`` are ASCII IFD0 tags
    for TIFF; ``exif`` goes to the other formats."""
    if fmt == "TIFF":
        return _tiff(samples, icc, dpi, tiff_tags)
    if samples.dtype == np.uint16:
        return _png16(samples, icc, exif, dpi)
    options: dict[str, Any] = {"icc_profile": icc, "exif": exif, "dpi": dpi}
    options = {key: value for key, value in options.items() if value is not None}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = quality
    if fmt == "JPEG" and quality >= 90:
        options["subsampling"] = 0  # 4:4:4: keep full colour resolution at high quality
    if fmt == "WEBP":
        options["exact"] = True  # keep colour under transparent pixels

    def encode(fh: BinaryIO) -> None:
        image = Image.fromarray(samples[..., 0] if samples.shape[2] == 1 else samples)
        image.save(fh, format=fmt, **options)

    return encode


def _tiff(
    samples: np.ndarray,
    icc: bytes | None,
    dpi: tuple[float, float] | None,
    tags: dict[int, str],
) -> Encoder:
    channels = samples.shape[2]
    options: dict[str, Any] = {
        "photometric": "minisblack" if channels <= 2 else "rgb",
        "extrasamples": ("unassalpha",) if channels in (2, 4) else None,
        "compression": "zlib",
        "predictor": True,
        "iccprofile": icc,
        "metadata": None,
        # bytes: tifffile takes str only as 7-bit ASCII
        "extratags": [(code, "s", 0, value.encode(), True) for code, value in tags.items()],
    }
    if 305 in tags:  # Software: the source's, not tifffile's name
        options["software"] = False
    if dpi:
        options["resolution"] = dpi
        options["resolutionunit"] = tifffile.RESUNIT.INCH

    def encode(fh: BinaryIO) -> None:
        tifffile.imwrite(fh, samples[..., 0] if channels == 1 else samples, **options)

    return encode


def _png16(
    samples: np.ndarray,
    icc: bytes | None,
    exif: bytes | None,
    dpi: tuple[float, float] | None,
) -> Encoder:
    channels = samples.shape[2]
    bgr = samples[..., 0] if channels == 1 else samples[..., [2, 1, 0, 3][:channels]]
    chunks = []
    if icc:
        chunks.append(_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc)))
    if exif:
        chunks.append(_chunk(b"eXIf", exif.removeprefix(b"Exif\x00\x00")))
    if dpi:
        per_metre = (round(value * _INCHES_PER_METRE) for value in dpi)
        chunks.append(_chunk(b"pHYs", struct.pack(">IIB", *per_metre, 1)))

    def encode(fh: BinaryIO) -> None:
        ok, encoded = cv2.imencode(".png", np.ascontiguousarray(bgr))
        if not ok:
            raise ValueError("OpenCV could not encode a 16-bit PNG")
        png = encoded.tobytes()
        fh.write(png[:_PNG_HEADER_END] + b"".join(chunks) + png[_PNG_HEADER_END:])

    return encode


def _chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk of type ``kind`` holding ``data``."""
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))
