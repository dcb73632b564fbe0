"""Decoding image files into samples and metadata, within one pixel limit.

Each file goes to a decoder that keeps its samples exactly, or is refused:

- tifffile: TIFF gray or RGB (with or without alpha), 8 or 16 bits, contiguous
  or planar, in every compression it has a codec for;
- Pillow: PNG, JPEG, WebP and BMP, and the 8-bit TIFFs tifffile cannot decode
  (LZW and JPEG compression, palette, CMYK, YCbCr, 1-bit);
- OpenCV: what Pillow would cut to 8 bits, 16-bit colour PNG and 16-bit LZW TIFF
  with contiguous samples (tifffile needs the imagecodecs package for LZW).

The pixel count is checked from the header before any decoder runs.
"""

from __future__ import annotations

import io
import lzma
import math
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError
from tifffile import COMPRESSION, EXTRASAMPLE, PHOTOMETRIC, PLANARCONFIG, SAMPLEFORMAT

from restore.api.errors import ImageReadError
from restore.io import metadata

# read_image applies one pixel limit to every decoder, checked from the header; Pillow's
# own check would refuse what a user allowed with max_pixels, and warn on the way there.
Image.MAX_IMAGE_PIXELS = None

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic and BigTIFF
# Pillow's format name -> ours (MPO: a JPEG holding extra pictures, as cameras write).
_FORMAT_BY_PILLOW = {
    "PNG": "PNG",
    "JPEG": "JPEG",
    "MPO": "JPEG",
    "TIFF": "TIFF",
    "WEBP": "WEBP",
    "BMP": "BMP",
}
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
# Colour samples per pixel of the TIFF photometrics tifffile decodes for us.
_TIFF_COLOUR: dict[int, int] = {
    PHOTOMETRIC.MINISWHITE: 1,
    PHOTOMETRIC.MINISBLACK: 1,
    PHOTOMETRIC.RGB: 3,
}
_MIN_CHUNK_SAMPLES = 1 << 22  # a tile or strip may hold this many samples whatever the image
# Streaming decompressors of the TIFF codecs that can inflate far beyond their input.
_INFLATERS: dict[int, Callable[[], Any]] = {
    COMPRESSION.ADOBE_DEFLATE: zlib.decompressobj,
    COMPRESSION.DEFLATE: zlib.decompressobj,
    COMPRESSION.PIXTIFF: zlib.decompressobj,
    COMPRESSION.LZMA: lzma.LZMADecompressor,
}
# The codecs tifffile decodes for us: those whose output can be bounded before decoding.
_BOUNDED = frozenset({COMPRESSION.NONE, COMPRESSION.PACKBITS, *_INFLATERS})
_RESOLUTION = (282, 283, 296)  # XResolution, YResolution, ResolutionUnit
_TRANSPOSING = frozenset({5, 6, 7, 8})  # orientations that swap width and height


@dataclass
class Decoded:
    """Samples and metadata of a decoded file."""

    samples: np.ndarray  # uint8 or uint16 H x W x C, C 1-4 (2 and 4: alpha last)
    format: str
    orientation: object = 1  # EXIF orientation still to apply to ``samples``
    icc: bytes | None = None
    exif: bytes | None = None  # orientation reset to 1
    dpi: tuple[float, float] | None = None  # of the upright picture
    frames: int = 1
    warnings: list[str] = field(default_factory=list)


def decode(path: Path, data: bytes, max_pixels: int | None) -> Decoded:
    """Decode ``data`` (the contents of ``path``) into upright samples and metadata."""
    tiff = data[:4] in _TIFF_MAGIC
    decoded = (_decode_tiff if tiff else _decode_pillow)(path, data, max_pixels)
    if decoded.samples.ndim == 2:
        decoded.samples = decoded.samples[..., None]
    decoded.samples = _orient(decoded.samples, decoded.orientation)
    if decoded.frames > 1:
        kind = "pages" if tiff else "frames"
        decoded.warnings.append(f"{decoded.frames} {kind}: only the first is restored")
    return decoded


def _check_size(path: Path, width: int, height: int, max_pixels: int | None) -> None:
    """Refuse an empty picture, or one over ``max_pixels`` (None or 0: no limit)."""
    if width <= 0 or height <= 0:
        raise ImageReadError(path, "image has zero size")
    pixels = width * height
    if max_pixels and pixels > max_pixels:
        raise ImageReadError(
            path,
            f"{width} x {height} pixels ({megapixels(pixels)} megapixels) is over the limit"
            f" of {megapixels(max_pixels)} megapixels (--max-pixels)",
        )


def megapixels(count: int) -> str:
    """``count`` pixels in megapixels, to one decimal (two digits when that shows 0.0)."""
    return f"{count / 1e6:.1f}" if count >= 100_000 else f"{count / 1e6:.2g}"


def _decode_pillow(path: Path, data: bytes, max_pixels: int | None) -> Decoded:
    """Decode a PNG, JPEG, WebP or BMP file."""
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageReadError(path, "not a recognised image file") from None
    with image:
        fmt = _FORMAT_BY_PILLOW.get(image.format or "")
        if fmt == "TIFF":  # a header Pillow guesses at, not one of the TIFF signatures
            raise ImageReadError(path, "damaged TIFF header")
        if fmt is None:
            raise ImageReadError(path, f"unsupported image format {image.format}")
        _check_size(path, image.width, image.height, max_pixels)
        samples = _pillow_samples(path, image, data)
        notes = _untracked_metadata(image)
        orientation: object = 1
        exif = None
        try:
            tags = image.getexif()
            orientation = tags.get(metadata.ORIENTATION, 1)
            exif = metadata.upright_exif(tags)
        except Exception as exc:  # a damaged EXIF block must not cost the picture
            notes.append(f"EXIF unreadable, not carried ({one_line(exc)})")
        return Decoded(
            samples,
            fmt,
            orientation=orientation,
            icc=image.info.get("icc_profile") or None,
            exif=exif,
            dpi=_upright_dpi(metadata.dpi_from_pillow(image.info), orientation),
            frames=max(1, getattr(image, "n_frames", 1)),
            warnings=notes,
        )


def _untracked_metadata(image: Image.Image) -> list[str]:
    """Notes on the metadata of a file that outputs do not carry: XMP, text, comments."""
    info = image.info
    lost = []
    if info.get("xmp") or info.get("XML:com.adobe.xmp"):
        lost.append("XMP metadata")
    text = [key for key in getattr(image, "text", {}) if key != "XML:com.adobe.xmp"]
    if text:
        lost.append("text chunks (" + ", ".join(text) + ")")
    if info.get("comment"):
        lost.append("comment")
    return [f"not carried to outputs: {', '.join(lost)}"] if lost else []


def _pillow_samples(path: Path, image: Image.Image, data: bytes) -> np.ndarray:
    """Samples of an opened image: gray, gray+alpha, RGB or RGBA, at the source's bits."""
    image.load()  # decodes everything: truncated or corrupt data fails here
    if image.format == "PNG" and data[24] == 16 and image.mode in ("RGB", "RGBA"):
        # Pillow keeps 8 bits of 16-bit colour; OpenCV adds alpha for a tRNS colour
        # itself, and expands gray+alpha (colour type 4) to RGBA.
        gray_alpha = data[25] == 4
        channels = (4,) if gray_alpha or image.mode == "RGBA" else (3, 4)
        samples = _opencv(path, data, image.size, channels)
        return samples[..., [0, 3]] if gray_alpha else samples
    if image.mode in _GRAY16_MODES:
        gray = np.asarray(image, dtype=np.uint16)
        clear = image.info.get("transparency")  # tRNS: the one fully transparent value
        if not isinstance(clear, int):
            return gray
        alpha = np.where(gray == clear, 0, 65535).astype(np.uint16)
        return np.stack([gray, alpha], axis=2)
    target = _TARGET_MODE.get(image.mode)
    if target is None:
        raise ImageReadError(path, f"unsupported pixel mode {image.mode}")
    if target in ("L", "RGB") and "transparency" in image.info:
        target += "A"
    return np.asarray(image if image.mode == target else image.convert(target))


def _decode_tiff(path: Path, data: bytes, max_pixels: int | None) -> Decoded:
    """Decode the first page of a TIFF file."""
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        page = tif.pages.first
        _check_size(path, page.imagewidth, page.imagelength, max_pixels)
        stored = page.tags.valueof(metadata.ORIENTATION, 1)
        resolution = {code: page.tags.valueof(code) for code in _RESOLUTION if code in page.tags}
        icc = page.tags.valueof(34675)
        layout = (page.offset, tif.byteorder)
        bigtiff = tif.is_bigtiff
        keep_description = not (page.is_shaped or page.is_imagej or page.is_ome)
        frames = len(tif.pages)
        samples = _tiff_samples(path, page, data)
        orientation = stored
        if samples is None:
            samples, orientation = _pillow_tiff(path, page, data)
    decoded = Decoded(
        samples,
        "TIFF",
        orientation=orientation,
        icc=bytes(icc) if icc else None,
        dpi=_upright_dpi(metadata.dpi_from_tiff(resolution), stored),
        frames=frames,
    )
    try:
        decoded.exif = metadata.exif_from_tiff(
            data, *layout, bigtiff=bigtiff, keep_description=keep_description
        )
    except Exception as exc:  # damaged tags must not cost the picture
        decoded.warnings.append(f"EXIF unreadable, not carried ({one_line(exc)})")
    return decoded


def _tiff_samples(path: Path, page: tifffile.TiffPage, data: bytes) -> np.ndarray | None:
    """A TIFF page's samples, H x W x C; None where Pillow is to decode them (8 bits)."""
    if page.sampleformat != SAMPLEFORMAT.UINT:
        kind = SAMPLEFORMAT(page.sampleformat).name.lower()
        raise ImageReadError(path, f"unsupported TIFF sample format ({kind}, not unsigned)")
    colour = _TIFF_COLOUR.get(page.photometric)
    bits = page.bitspersample
    if colour is None or bits not in (8, 16):
        return None
    extra = page.samplesperpixel - colour
    if page.imagedepth != 1 or extra not in (0, 1):
        raise ImageReadError(path, f"unsupported TIFF layout ({_describe(page)})")
    planar = page.planarconfig == PLANARCONFIG.SEPARATE and page.samplesperpixel > 1
    if page.compression in _BOUNDED:
        _check_segments(path, page, data)
        samples = page.asarray()
        samples = np.moveaxis(samples, 0, -1) if planar else samples
    elif bits == 8 and not (planar and page.samplesperpixel == 2):
        return None  # Pillow (libtiff) decodes these; it loses planar gray+alpha's alpha
    elif (
        page.compression == COMPRESSION.LZW
        and not planar
        and page.photometric != PHOTOMETRIC.MINISWHITE
        and page.samplesperpixel != 2
    ):
        size = (page.imagewidth, page.imagelength)
        samples = _opencv(path, _without_orientation(data, page), size, (page.samplesperpixel,))
    else:
        raise ImageReadError(
            path, f"cannot decode {_describe(page)} TIFF without the imagecodecs package"
        )
    return _tiff_alpha(page, samples.reshape(*samples.shape[:2], -1), colour)


def _check_segments(path: Path, page: tifffile.TiffPage, data: bytes) -> None:
    """Refuse what a header check cannot see: tiles or strips far larger than the
    image, and compressed segments that inflate beyond the samples they hold (a
    decompression bomb). Inflation is checked in bounded memory before decoding."""
    chunk = math.prod(page.chunks)
    if chunk > max(4 * math.prod(page.shape), _MIN_CHUNK_SAMPLES):
        raise ImageReadError(path, f"TIFF tiles or strips of {page.chunks} exceed the image")
    limit = chunk * page.bitspersample // 8
    inflater = _INFLATERS.get(page.compression)
    for offset, count in zip(page.dataoffsets, page.databytecounts, strict=True):
        if inflater is not None:
            inflated = len(inflater().decompress(data[offset : offset + count], limit + 1))
        else:  # PackBits: output at most 64 x its input, which is at most raw + 1/128
            inflated = limit if count <= limit + limit // 128 + 16 else limit + 1
        if inflated > limit:
            raise ImageReadError(
                path, "compressed TIFF data inflates beyond the image (a decompression bomb?)"
            )


def _tiff_alpha(page: tifffile.TiffPage, samples: np.ndarray, colour: int) -> np.ndarray:
    """Gray or RGB samples with straight alpha last, from how the page stores them."""
    maximum = np.iinfo(samples.dtype).max
    if page.photometric == PHOTOMETRIC.MINISWHITE:
        samples[..., :colour] = maximum - samples[..., :colour]
    if samples.shape[2] == colour:
        return samples
    # No ExtraSamples tag: alpha, as OpenCV writes RGBA (and Pillow reads it).
    kind = page.extrasamples[0] if page.extrasamples else EXTRASAMPLE.UNASSALPHA
    if kind == EXTRASAMPLE.UNSPECIFIED:  # not transparency: some other channel
        return np.ascontiguousarray(samples[..., :colour])
    if kind == EXTRASAMPLE.ASSOCALPHA:  # colour premultiplied by alpha
        alpha = samples[..., colour:].astype(np.float32)
        straight = samples[..., :colour] * (maximum / np.maximum(alpha, 1))
        samples[..., :colour] = np.clip(np.rint(straight), 0, maximum)
    return samples


def _pillow_tiff(path: Path, page: tifffile.TiffPage, data: bytes) -> tuple[np.ndarray, object]:
    """A TIFF's samples decoded by Pillow, and the orientation still to apply (Pillow
    turns single-page TIFFs upright itself)."""
    try:
        image = Image.open(io.BytesIO(data), formats=["TIFF"])
    except UnidentifiedImageError:
        raise ImageReadError(path, f"unsupported TIFF ({_describe(page)})") from None
    with image:
        samples = _pillow_samples(path, image, data)
        return samples, image.getexif().get(metadata.ORIENTATION, 1)


def _describe(page: tifffile.TiffPage) -> str:
    """A TIFF page's sample layout in words, e.g. "16-bit RGB, 4 samples, LZW, planar"."""
    words = [
        f"{page.bitspersample}-bit {PHOTOMETRIC(page.photometric).name}",
        f"{page.samplesperpixel} samples",
        COMPRESSION(page.compression).name,
    ]
    if page.planarconfig == PLANARCONFIG.SEPARATE:
        words.append("planar")
    return ", ".join(words)


def _opencv(
    path: Path, data: bytes, size: tuple[int, int], channels: tuple[int, ...]
) -> np.ndarray:
    """16-bit samples of a PNG or TIFF decoded by OpenCV, RGB(A) order, checked against
    the (width, height) and the channel counts the header promises."""
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype != np.uint16:
        raise ImageReadError(path, "cannot decode 16-bit samples")
    decoded = decoded.reshape(*decoded.shape[:2], -1)
    height, width, samples = decoded.shape
    if (width, height) != size or samples not in channels:
        got = f"{width} x {height} x {samples}"
        raise ImageReadError(path, f"16-bit samples decoded as {got}, not as the header says")
    return decoded[..., [2, 1, 0, 3][:samples]] if samples > 1 else decoded


def _without_orientation(data: bytes, page: tifffile.TiffPage) -> bytes:
    """``data`` with its Orientation tag set to 1, for OpenCV to leave the samples as stored.

    OpenCV 5 turns TIFFs by their Orientation tag even with IMREAD_UNCHANGED
    (4.x does not); read_image applies the orientation itself.
    """
    tag = page.tags.get(metadata.ORIENTATION)
    if tag is None or tag.dtype != tifffile.DATATYPE.SHORT:
        return data
    patched = bytearray(data)
    struct.pack_into(page.parent.byteorder + "H", patched, tag.valueoffset, 1)
    return bytes(patched)


def _upright_dpi(
    dpi: tuple[float, float] | None, orientation: object
) -> tuple[float, float] | None:
    """Resolution of the upright picture, from that of the stored one."""
    return (dpi[1], dpi[0]) if dpi and orientation in _TRANSPOSING else dpi


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


def one_line(exc: BaseException) -> str:
    """An exception's message on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__
