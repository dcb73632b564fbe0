"""Image metadata that travels from inputs to outputs: EXIF, resolution, ICC fit.

EXIF is parsed and written with Pillow (``PIL.Image.Exif``); a TIFF file's own
header and IFD0 are laid out like an EXIF block, so Pillow reads them the same way.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

from PIL import Image
from PIL.ExifTags import IFD, Base

ORIENTATION = Base.Orientation
# IFD0 tags that describe the picture rather than how its samples are stored; TIFF
# outputs write these (orientation aside: outputs are upright).
_TIFF_TAGS = (
    Base.ImageDescription,
    Base.Make,
    Base.Model,
    Base.Software,
    Base.DateTime,
    Base.Artist,
    Base.Copyright,
)
_FROM_TIFF_TAGS = (*_TIFF_TAGS, Base.HostComputer, ORIENTATION)
_RESOLUTION_TAGS = (Base.XResolution, Base.YResolution)
_INCH, _CENTIMETRE = 2, 3
_JPEG_EXIF_MAX = 65533  # bytes of EXIF one JPEG APP1 segment can hold


def upright_exif(exif: Image.Exif) -> bytes | None:
    """``exif`` as bytes with its orientation reset to 1 (the pixels have been turned
    upright); None when it is empty."""
    if not exif:
        return None
    if ORIENTATION in exif:
        exif[ORIENTATION] = 1
    return exif.tobytes()


def exif_from_tiff(
    data: bytes, ifd0: int, byteorder: str, *, bigtiff: bool, keep_description: bool
) -> bytes | None:
    """An EXIF block built from a TIFF file's descriptive IFD0 tags (``ifd0``: its
    offset) and its EXIF and GPS sub-IFDs, without the tags that say how the samples
    are stored (strips, sizes, compression). ``keep_description`` False drops
    ImageDescription, for files where it holds the writer's own metadata (tifffile
    shape, ImageJ, OME-XML)."""
    source = Image.Exif()
    source.endian, source.bigtiff = byteorder, bigtiff
    source.load_from_fp(io.BytesIO(data), ifd0)
    exif = Image.Exif()
    for tag in _FROM_TIFF_TAGS:
        if tag in source and (keep_description or tag != Base.ImageDescription):
            exif[tag] = source[tag]
    for ifd in (IFD.Exif, IFD.GPSInfo):
        if tags := source.get_ifd(ifd):
            exif[ifd] = dict(tags)
    return upright_exif(exif)


def load_exif(data: bytes) -> Image.Exif:
    """Parse an EXIF block (with or without its ``Exif\\0\\0`` prefix)."""
    exif = Image.Exif()
    exif.load(data)
    return exif


def with_resolution(exif: Image.Exif, dpi: tuple[float, float], *, add: bool = False) -> None:
    """Make ``exif``'s resolution tags say ``dpi`` where it has them (or always, with
    ``add``): the output's resolution may differ from the source's."""
    if add or any(tag in exif for tag in _RESOLUTION_TAGS):
        exif[Base.XResolution], exif[Base.YResolution] = dpi
        exif[Base.ResolutionUnit] = _INCH


def with_size(exif: Image.Exif, width: int, height: int) -> None:
    """Make the EXIF pixel dimensions, where it has them, the output's: orientation
    applied (width and height swapped) or a stage that changed the size."""
    details = exif.get_ifd(IFD.Exif)
    if Base.ExifImageWidth in details or Base.ExifImageHeight in details:
        details[Base.ExifImageWidth], details[Base.ExifImageHeight] = width, height


def fit_jpeg(exif: Image.Exif) -> tuple[bytes | None, list[str]]:
    """``exif`` as bytes small enough for a JPEG APP1 segment, and what was dropped
    to get there. Serialising already leaves out the thumbnail (IFD1); next goes the
    maker note, and if that is still not enough, the whole block."""
    data = exif.tobytes()
    if len(data) <= _JPEG_EXIF_MAX:
        return data, []
    if exif.get_ifd(IFD.Exif).pop(Base.MakerNote, None) is not None:
        data = exif.tobytes()
        if len(data) <= _JPEG_EXIF_MAX:
            return data, ["EXIF maker note dropped: a JPEG holds at most 64 KiB of EXIF"]
    size = f"{len(data) / 1024:.0f} KiB"
    return None, [f"EXIF dropped: {size} is over the 64 KiB a JPEG holds"]


def tiff_tags(exif: Image.Exif) -> tuple[dict[int, str], list[str]]:
    """The descriptive IFD0 tags a TIFF output keeps from ``exif``, and what it loses.

    tifffile writes no EXIF or GPS sub-IFD. DateTimeOriginal stands in for a
    missing DateTime.
    """
    tags: dict[int, str] = {tag: exif[tag] for tag in _TIFF_TAGS if isinstance(exif.get(tag), str)}
    camera = exif.get_ifd(IFD.Exif)
    original = camera.get(Base.DateTimeOriginal)
    if Base.DateTime not in tags and isinstance(original, str):
        tags[Base.DateTime] = original
    lost = [name for ifd, name in ((camera, "EXIF"), (exif.get_ifd(IFD.GPSInfo), "GPS")) if ifd]
    if not lost:
        return tags, []
    return tags, [f"{' and '.join(lost)} tags dropped: TIFF output keeps only IFD0 tags"]


def dpi_from_pillow(info: Mapping[Any, Any]) -> tuple[float, float] | None:
    """Pixels per inch from a Pillow image's ``info`` (JPEG, PNG, BMP), if it says."""
    dpi = info.get("dpi")
    return _checked(dpi[0], dpi[1]) if isinstance(dpi, tuple) and len(dpi) == 2 else None


def dpi_from_tiff(tags: Mapping[int, Any]) -> tuple[float, float] | None:
    """Pixels per inch from TIFF XResolution, YResolution and ResolutionUnit values."""
    unit = tags.get(Base.ResolutionUnit, _INCH)
    if unit not in (_INCH, _CENTIMETRE):  # 1: no absolute unit
        return None
    try:
        x, y = (tags[tag][0] / tags[tag][1] for tag in _RESOLUTION_TAGS)
    except (KeyError, TypeError, IndexError, ZeroDivisionError):
        return None
    scale = 2.54 if unit == _CENTIMETRE else 1.0
    return _checked(x * scale, y * scale)


def _checked(x: Any, y: Any) -> tuple[float, float] | None:
    """(x, y) as a resolution rounded to 0.1 dpi (within what PNG and BMP store, whole
    pixels per metre, so values survive a round trip), or None unless both are positive."""
    try:
        values = float(x), float(y)
    except (TypeError, ValueError):
        return None
    if not all(math.isfinite(v) and v > 0 for v in values):
        return None
    return round(values[0], 1), round(values[1], 1)


def icc_mismatch(icc: bytes, channels: int) -> str | None:
    """Why an ICC profile cannot go with 1 (gray) or 3 (RGB) channels; None if it fits."""
    space = icc[16:20].decode("latin-1").strip()
    wanted, pixels = ("GRAY", "gray") if channels == 1 else ("RGB", "RGB")
    if space == wanted:
        return None
    return f"ICC profile dropped: a {space or 'damaged'} profile does not fit {pixels} pixels"
