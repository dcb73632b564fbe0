"""Property tests for the decoders.

(a) Random valid images, of random size, layout, bit depth, format and writer,
read back exactly from every lossless file. (b) Whatever happens to a valid file
of any format (cut short, bytes changed, replaced by garbage, only its header
left), ``read_image`` returns a well-formed image or raises ImageReadError:
never any other exception.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imagefiles import LAYOUTS, png_bytes, random_samples, stored, tiff_bytes
from PIL import Image

from restore.api.errors import ImageReadError
from restore.io.images import LoadedImage, prepare_image, read_image

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX_PIXELS = 100_000  # far above every file made here: a damaged header claiming more is refused

Maker = Callable[[np.ndarray], tuple[str, bytes, np.ndarray]]  # samples -> suffix, file, expected


def _ours(suffix: str) -> Maker:
    def make(samples: np.ndarray) -> tuple[str, bytes, np.ndarray]:
        bits = 16 if samples.dtype == np.uint16 else 8
        floats = samples.astype(np.float32) / (2**bits - 1)
        colour = 1 if samples.shape[2] <= 2 else 3
        alpha = floats[..., colour] if samples.shape[2] in (2, 4) else None
        encoded = prepare_image(f"a{suffix}", floats[..., :colour], alpha=alpha, bit_depth=bits)
        out = io.BytesIO()
        encoded.encode(out)
        expected = samples
        if suffix == ".png" and bits == 16 and samples.shape[2] == 2:  # stored as RGBA
            expected = samples[..., [0, 0, 0, 1]]
        if suffix == ".bmp":
            expected = _to_8bit(samples)[..., :colour]
        return suffix, out.getvalue(), expected

    return make


def _to_8bit(samples: np.ndarray) -> np.ndarray:
    if samples.dtype == np.uint8:
        return samples
    return np.rint(samples / 257).astype(np.uint8)


def _tifffile(planar: bool, compression: str | None, predictor: bool) -> Maker:
    def make(samples: np.ndarray) -> tuple[str, bytes, np.ndarray]:
        rows = max(1, samples.shape[0] // 3)
        data = tiff_bytes(
            samples,
            planar=planar,
            compression=compression,
            predictor=predictor and compression is not None,
            rowsperstrip=rows,
        )
        return ".tif", data, samples

    return make


def _hand_png(samples: np.ndarray) -> tuple[str, bytes, np.ndarray]:
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[samples.shape[2]]
    return ".png", png_bytes(samples, colour_type), samples


def _opencv(suffix: str) -> Maker:
    """PNG, or TIFF with LZW compression and the horizontal predictor for 16 bits."""

    def make(samples: np.ndarray) -> tuple[str, bytes, np.ndarray]:
        if samples.shape[2] == 2:  # OpenCV writes no gray+alpha
            samples = samples[..., :1]
        channels = samples.shape[2]
        bgr = samples[..., [2, 1, 0, 3][:channels]] if channels > 1 else samples
        ok, encoded = cv2.imencode(suffix, np.ascontiguousarray(bgr))
        assert ok
        return suffix, encoded.tobytes(), samples

    return make


def _pillow(fmt: str, **options: object) -> Maker:
    def make(samples: np.ndarray) -> tuple[str, bytes, np.ndarray]:
        eight = _to_8bit(samples)
        image = Image.fromarray(eight[..., 0] if eight.shape[2] == 1 else eight)
        if fmt == "WEBP" and image.mode in ("L", "LA"):  # WebP holds no gray
            image = image.convert("RGBA" if image.mode == "LA" else "RGB")
        if fmt == "JPEG" and image.mode in ("LA", "RGBA"):  # nor JPEG alpha
            image = image.convert(image.mode[:-1])
        out = io.BytesIO()
        image.save(out, format=fmt, **options)
        if fmt == "WEBP":  # an opaque picture is stored without alpha
            with Image.open(out) as written:
                eight = np.asarray(written).reshape(*eight.shape[:2], -1)
        return f".{fmt.lower()}", out.getvalue(), eight

    return make


LOSSLESS: list[Maker] = [
    _ours(".png"),
    _ours(".tif"),
    _ours(".bmp"),
    _hand_png,
    _opencv(".png"),
    _opencv(".tif"),
    _pillow("TIFF", compression="tiff_lzw"),
    _pillow("WEBP", lossless=True, exact=True),
    *(
        _tifffile(planar, compression, predictor)
        for planar in (False, True)
        for compression in (None, "zlib", "packbits")
        for predictor in (False, True)
    ),
]
# Lossy, or (LZW planes, gray+alpha) not always decoded without imagecodecs: damaged only.
OTHERS: list[Maker] = [
    _pillow("JPEG", quality=80),
    _pillow("WEBP", quality=70),
    *(
        _tifffile(planar, "lzw", predictor)
        for planar in (False, True)
        for predictor in (False, True)
    ),
]


@st.composite
def images(draw: st.DrawFn) -> np.ndarray:
    """Random samples: size 1-64 each way, any layout, 8 or 16 bits, varied content."""
    height, width = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    channels = draw(st.sampled_from(sorted(LAYOUTS.values())))
    bits = draw(st.sampled_from([8, 16]))
    content = draw(st.sampled_from(["random", "zeros", "full", "ramp"]))
    samples = random_samples(height, width, channels, bits, draw(st.integers(0, 2**32 - 1)))
    if content == "zeros":
        samples[:] = 0
    elif content == "full":
        samples[:] = 2**bits - 1
    elif content == "ramp":
        samples[:] = (np.arange(width) % 2**bits)[None, :, None].astype(samples.dtype)
    return samples


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("properties")


@SETTINGS
@given(samples=images(), maker=st.sampled_from(LOSSLESS))
def test_lossless_files_round_trip_exactly(folder: Path, samples: np.ndarray, maker: Maker) -> None:
    suffix, data, expected = maker(samples)
    path = folder / f"round{suffix}"
    path.write_bytes(data)
    loaded = read_image(path)
    assert_well_formed(loaded)
    np.testing.assert_array_equal(stored(loaded), expected)


def assert_well_formed(loaded: LoadedImage) -> None:
    pixels = loaded.pixels
    assert pixels.dtype == np.float32 and pixels.ndim == 3 and pixels.shape[2] in (1, 3)
    assert np.isfinite(pixels).all() and pixels.min() >= 0 and pixels.max() <= 1
    if loaded.alpha is not None:
        alpha = loaded.alpha
        assert alpha.dtype == np.float32 and alpha.shape == pixels.shape[:2]
        assert np.isfinite(alpha).all() and alpha.min() >= 0 and alpha.max() <= 1
    assert loaded.bit_depth in (8, 16)
    assert loaded.format in ("PNG", "JPEG", "TIFF", "WEBP", "BMP")
    assert loaded.frames >= 1 and all(isinstance(note, str) for note in loaded.warnings)


@st.composite
def damaged(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid file of any format and writer, then cut, changed, replaced or left a header."""
    maker = draw(st.sampled_from(LOSSLESS + OTHERS))
    suffix, data, _ = maker(draw(images()))
    harm = draw(st.sampled_from(["truncate", "flip", "garbage", "header"]))
    if harm == "truncate":
        return suffix, data[: draw(st.integers(0, len(data) - 1))]
    if harm == "header":
        return suffix, data[: draw(st.integers(1, min(len(data), 160)))]
    if harm == "garbage":
        prefix = data[: draw(st.integers(0, 16))]  # keep the signature, sometimes
        return suffix, prefix + draw(st.binary(max_size=2000))
    changed = bytearray(data)
    for _ in range(draw(st.integers(1, 12))):
        changed[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return suffix, bytes(changed)


@SETTINGS
@given(case=damaged())
@pytest.mark.filterwarnings("ignore")  # Pillow warns about some damage it works around
def test_damaged_files_decode_or_raise_image_read_error(
    folder: Path, case: tuple[str, bytes]
) -> None:
    suffix, data = case
    path = folder / f"damaged{suffix}"
    path.write_bytes(data)
    try:
        loaded = read_image(path, max_pixels=MAX_PIXELS)
    except ImageReadError as exc:
        assert exc.path == path
        assert "\n" not in str(exc)
    else:
        assert_well_formed(loaded)
