"""Making image files of known content for the io tests, and reading results back."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from restore.io.images import LoadedImage

LAYOUTS = {"gray": 1, "gray+alpha": 2, "rgb": 3, "rgba": 4}  # name -> samples per pixel


def random_samples(height: int, width: int, channels: int, bits: int, seed: int) -> np.ndarray:
    """Uniform random H x W x C samples of ``bits`` (8 or 16)."""
    dtype = np.uint16 if bits == 16 else np.uint8
    return np.random.default_rng(seed).integers(0, 2**bits, (height, width, channels), dtype)


def stored(loaded: LoadedImage) -> np.ndarray:
    """A decoded image back as integer samples, alpha last (what the file should hold)."""
    scale = 65535 if loaded.bit_depth == 16 else 255
    planes = [loaded.pixels] if loaded.alpha is None else [loaded.pixels, loaded.alpha[..., None]]
    samples = np.rint(np.concatenate(planes, axis=2) * scale)
    return samples.astype(np.uint16 if loaded.bit_depth == 16 else np.uint8)


# ---------------------------------------------------------------- PNG by hand


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bytes(samples: np.ndarray, colour_type: int, *extra: bytes, size: Any = None) -> bytes:
    """A PNG of 8- or 16-bit ``samples`` (for layouts no library here writes, e.g.
    16-bit gray+alpha); ``size`` (width, height) overrides the header's."""
    height, width = samples.shape[:2]
    big_endian = samples.astype(">u2" if samples.dtype == np.uint16 else np.uint8)
    rows = b"".join(b"\0" + row.tobytes() for row in big_endian)
    bits = 16 if samples.dtype == np.uint16 else 8
    width, height = size or (width, height)
    header = struct.pack(">IIBBBBB", width, height, bits, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + b"".join(extra)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------- TIFF encoders
# tifffile encodes LZW and PackBits only with the imagecodecs package, which is not
# installed here; these minimal, valid encoders let it write such files for the tests.


def _lzw_encode(data: Any, **_: Any) -> bytes:
    """TIFF LZW with literal codes only, 9 bits each: a Clear code every 250 bytes keeps
    the table (which the decoder still grows) from needing wider codes."""
    raw = data if isinstance(data, bytes) else np.ascontiguousarray(data).tobytes()
    codes = []
    for start in range(0, len(raw), 250):
        codes += [256, *raw[start : start + 250]]
    codes.append(257)  # end of information
    bits = "".join(format(code, "09b") for code in codes)
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


def _packbits_encode(data: Any, **_: Any) -> bytes:
    """PackBits with literal runs only (at most 128 bytes each)."""
    raw = data if isinstance(data, bytes) else np.ascontiguousarray(data).tobytes()
    runs = (raw[start : start + 128] for start in range(0, len(raw), 128))
    return b"".join(bytes([len(run) - 1]) + run for run in runs)


@contextmanager
def tiff_encoders() -> Iterator[None]:
    """Let tifffile write LZW and PackBits (with the encoders above) while open."""
    codecs = tifffile.TIFF.COMPRESSORS._codecs
    saved = dict(codecs)
    codecs[tifffile.COMPRESSION.LZW] = _lzw_encode
    codecs[tifffile.COMPRESSION.PACKBITS] = _packbits_encode
    try:
        yield
    finally:
        codecs.clear()
        codecs.update(saved)


def tiff_bytes(
    samples: np.ndarray,
    *,
    photometric: str | None = None,
    planar: bool = False,
    compression: str | None = None,
    predictor: bool = False,
    extrasample: str = "unassalpha",
    **options: Any,
) -> bytes:
    """A TIFF of H x W x C ``samples`` written by tifffile (gray or RGB by C unless
    ``photometric`` says otherwise)."""
    channels = samples.shape[2]
    colour = 1 if channels <= 2 else 3
    if photometric is None:
        photometric = "minisblack" if colour == 1 else "rgb"
    data = samples[..., 0] if channels == 1 else samples
    if planar and channels > 1:
        data = np.moveaxis(samples, -1, 0)
    out = io.BytesIO()
    with tiff_encoders():
        tifffile.imwrite(
            out,
            data,
            photometric=photometric,
            planarconfig=("separate" if planar else "contig") if channels > 1 else None,
            extrasamples=(extrasample,) * (channels - colour) if channels > colour else None,
            compression=compression,
            predictor=predictor or None,
            metadata=None,
            **options,
        )
    return out.getvalue()


def patch_tiff_tag(data: bytes, code: int, value: int) -> bytes:
    """``data`` with the first page's SHORT or LONG tag ``code`` set to ``value``."""
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        tag = tif.pages.first.tags[code]
        kind = "H" if tag.dtype == tifffile.DATATYPE.SHORT else "I"
        patched = bytearray(data)
        struct.pack_into(tif.byteorder + kind, patched, tag.valueoffset, value)
    return bytes(patched)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
