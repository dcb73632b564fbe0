"""Every decoder path against a reference decode: the known samples that were encoded,
or Pillow's own decode for lossy formats; what no decoder here gets right is refused."""

from __future__ import annotations

import io
import itertools
import os
import re
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from imagefiles import (
    LAYOUTS,
    patch_tiff_tag,
    png_bytes,
    png_chunk,
    random_samples,
    stored,
    tiff_bytes,
    tiff_encoders,
    write,
)
from PIL import Image, ImageFile, ImageOps

from restore.api.errors import ImageReadError
from restore.io.images import DEFAULT_MAX_PIXELS, read_image

H, W = 13, 19  # odd sizes: partial strips, tiles and predictor rows

# ---------------------------------------------------------------- TIFF

LZW_DECODES = tifffile.COMPRESSION.LZW in tifffile.TIFF.DECOMPRESSORS  # imagecodecs installed
TIFF_CASES = [
    (bits, layout, planar, compression, predictor)
    for bits in (8, 16)
    for layout in LAYOUTS
    for planar in ((False, True) if LAYOUTS[layout] > 1 else (False,))
    for compression in (None, "zlib", "lzw", "packbits")
    for predictor in ((False, True) if compression in ("zlib", "lzw") else (False,))
]


def tiff_refused(bits: int, layout: str, planar: bool, compression: str | None) -> bool:
    """The layouts no decoder here reads exactly without imagecodecs: tifffile has no
    LZW; OpenCV mis-decodes planar 16-bit and drops 16-bit gray+alpha's alpha; Pillow
    keeps 8 bits and drops planar gray+alpha's alpha."""
    if compression != "lzw" or LZW_DECODES:
        return False
    return (layout == "gray+alpha" and (bits == 16 or planar)) or (bits == 16 and planar)


def tiff_case(
    bits: int, layout: str, planar: bool, compression: str | None, predictor: bool, seed: int
) -> tuple[bytes, np.ndarray]:
    samples = random_samples(H, W, LAYOUTS[layout], bits, seed)
    data = tiff_bytes(
        samples, planar=planar, compression=compression, predictor=predictor, rowsperstrip=5
    )
    return data, samples


@pytest.mark.parametrize(("bits", "layout", "planar", "compression", "predictor"), TIFF_CASES)
def test_tiff_layouts_decode_exactly(
    tmp_path: Path, bits: int, layout: str, planar: bool, compression: str | None, predictor: bool
) -> None:
    data, samples = tiff_case(bits, layout, planar, compression, predictor, seed=bits)
    path = write(tmp_path / "a.tif", data)
    if tiff_refused(bits, layout, planar, compression):
        with pytest.raises(ImageReadError, match="imagecodecs"):
            read_image(path)
        return
    loaded = read_image(path)
    assert loaded.bit_depth == bits
    assert (loaded.alpha is not None) == (layout in ("gray+alpha", "rgba"))
    np.testing.assert_array_equal(stored(loaded), samples)


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("compression", [None, "zlib", "lzw"])
@pytest.mark.parametrize("layout", ["gray", "rgb", "rgba"])
def test_tiled_tiff_decodes_exactly(
    tmp_path: Path, bits: int, compression: str, layout: str
) -> None:
    samples = random_samples(40, 37, LAYOUTS[layout], bits, seed=3)
    path = write(tmp_path / "t.tif", tiff_bytes(samples, compression=compression, tile=(16, 16)))
    np.testing.assert_array_equal(stored(read_image(path)), samples)


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("compression", [None, "zlib", "lzw"])
@pytest.mark.parametrize("planar", [False, True])
def test_big_endian_tiff_decodes_exactly(
    tmp_path: Path, bits: int, compression: str | None, planar: bool
) -> None:
    samples = random_samples(H, W, 4, bits, seed=4)
    data = tiff_bytes(samples, planar=planar, compression=compression, byteorder=">")
    path = write(tmp_path / "be.tif", data)
    if tiff_refused(bits, "rgba", planar, compression):
        with pytest.raises(ImageReadError, match="imagecodecs"):
            read_image(path)
    else:
        np.testing.assert_array_equal(stored(read_image(path)), samples)


def test_many_tiffs_in_sequence_decode_exactly(tmp_path: Path) -> None:
    """One process decoding different files in turn: no state carries from one to the next."""
    cases = [case for case in TIFF_CASES if not tiff_refused(*case[:4])]
    files = []
    for index, case in enumerate(cases):
        data, samples = tiff_case(*case, seed=100 + index)
        files.append((write(tmp_path / f"{index}.tif", data), samples))
    order = list(range(len(files)))
    np.random.default_rng(0).shuffle(order)
    for index in [*order, *reversed(order)]:
        path, samples = files[index]
        np.testing.assert_array_equal(stored(read_image(path)), samples, err_msg=str(cases[index]))


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("compression", [None, "lzw"])
def test_tiff_associated_alpha_is_unpremultiplied(
    tmp_path: Path, bits: int, compression: str
) -> None:
    maximum = 2**bits - 1
    straight = random_samples(H, W, 4, bits, seed=5)
    alpha = straight[..., 3:].astype(np.float64)
    premultiplied = straight.copy()
    premultiplied[..., :3] = np.rint(straight[..., :3] * alpha / maximum)
    data = tiff_bytes(premultiplied, compression=compression, extrasample="assocalpha")
    loaded = read_image(write(tmp_path / "p.tif", data))
    unpremultiplied = premultiplied[..., :3] / np.maximum(alpha, 1) * maximum
    expected = np.clip(np.rint(unpremultiplied), 0, maximum)
    np.testing.assert_allclose(stored(loaded)[..., :3], expected, atol=1)  # rounding twice
    np.testing.assert_array_equal(stored(loaded)[..., 3], straight[..., 3])


@pytest.mark.parametrize("bits", [8, 16])
def test_tiff_unspecified_extra_sample_is_not_alpha(tmp_path: Path, bits: int) -> None:
    samples = random_samples(H, W, 4, bits, seed=6)
    loaded = read_image(write(tmp_path / "x.tif", tiff_bytes(samples, extrasample="unspecified")))
    assert loaded.alpha is None
    np.testing.assert_array_equal(stored(loaded), samples[..., :3])


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("compression", [None, "zlib", "lzw"])
@pytest.mark.parametrize("alpha", [False, True])
def test_tiff_min_is_white_is_inverted(
    tmp_path: Path, bits: int, compression: str, alpha: bool
) -> None:
    samples = random_samples(H, W, 2 if alpha else 1, bits, seed=7)
    path = write(
        tmp_path / "w.tif", tiff_bytes(samples, photometric="miniswhite", compression=compression)
    )
    expected = samples.copy()
    expected[..., 0] = 2**bits - 1 - samples[..., 0]
    if compression == "lzw" and not LZW_DECODES and (bits == 16 or alpha):
        with pytest.raises(ImageReadError, match="TIFF"):
            read_image(path)
    else:
        np.testing.assert_array_equal(stored(read_image(path)), expected)


@pytest.mark.parametrize("planar", [False, True])
@pytest.mark.parametrize("compression", [None, "zlib", "lzw"])
def test_cmyk_and_palette_tiff_match_pillow(tmp_path: Path, planar: bool, compression: str) -> None:
    cmyk = random_samples(H, W, 4, 8, seed=8)
    path = write(
        tmp_path / "c.tif",
        tiff_bytes(cmyk, photometric="separated", planar=planar, compression=compression),
    )
    expected = np.asarray(Image.fromarray(cmyk, "CMYK").convert("RGB"))
    np.testing.assert_array_equal(stored(read_image(path)), expected)

    colormap = np.random.default_rng(9).integers(0, 65536, (3, 256), dtype=np.uint16)
    indices = random_samples(H, W, 1, 8, seed=10)
    data = tiff_bytes(indices, photometric="palette", colormap=colormap, compression=compression)
    expected = (colormap[:, indices[..., 0]].transpose(1, 2, 0) >> 8).astype(np.uint8)
    np.testing.assert_array_equal(stored(read_image(write(tmp_path / "p.tif", data))), expected)


@pytest.mark.parametrize("compression", ["raw", "tiff_lzw", "packbits", "tiff_adobe_deflate"])
@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16"])
def test_tiffs_written_by_pillow_decode_exactly(
    tmp_path: Path, compression: str, mode: str
) -> None:
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "I;16": 1}[mode]
    samples = random_samples(H, W, channels, 16 if mode == "I;16" else 8, seed=11)
    image = Image.fromarray(samples[..., 0] if channels == 1 else samples)
    image.save(tmp_path / "a.tif", compression=compression)
    np.testing.assert_array_equal(stored(read_image(tmp_path / "a.tif")), samples)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("predictor", [1, 2])
def test_16bit_lzw_tiffs_written_by_opencv_decode_exactly(
    tmp_path: Path, channels: int, predictor: int
) -> None:
    samples = random_samples(H, W, channels, 16, seed=12)
    bgr = samples[..., 0] if channels == 1 else samples[..., [2, 1, 0, 3][:channels]]
    params = [cv2.IMWRITE_TIFF_COMPRESSION, cv2.IMWRITE_TIFF_COMPRESSION_LZW]
    params += [cv2.IMWRITE_TIFF_PREDICTOR, predictor, cv2.IMWRITE_TIFF_ROWSPERSTRIP, 4]
    assert cv2.imwrite(str(tmp_path / "a.tif"), bgr, params)
    loaded = read_image(tmp_path / "a.tif")
    assert loaded.bit_depth == 16
    np.testing.assert_array_equal(stored(loaded), samples)


def upright(samples: np.ndarray, orientation: int) -> np.ndarray:
    """``samples`` turned upright the way Pillow's exif_transpose turns a picture."""
    height, width = samples.shape[:2]
    index = Image.fromarray(np.arange(height * width, dtype=np.int32).reshape(height, width))
    index.getexif()[0x0112] = orientation
    return samples.reshape(height * width, -1)[np.asarray(ImageOps.exif_transpose(index))]


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize(
    ("bits", "compression", "pages"),
    [(16, "zlib", 1), (16, "lzw", 1), (8, "lzw", 1), (8, "lzw", 2), (8, None, 2)],
    ids=["tifffile", "opencv", "pillow", "pillow-pages", "tifffile-pages"],
)
def test_tiff_orientation_is_applied_on_every_path(
    tmp_path: Path, orientation: int, bits: int, compression: str | None, pages: int
) -> None:
    samples = random_samples(H, W, 3, bits, seed=19)
    tags = [(274, "H", 1, orientation, True)]
    options = {"compression": compression, "extratags": tags, "resolution": (300, 100)}
    with tifffile.TiffWriter(tmp_path / "o.tif") as tif, tiff_encoders():
        for _ in range(pages):
            tif.write(samples, photometric="rgb", metadata=None, **options)
    loaded = read_image(tmp_path / "o.tif")
    np.testing.assert_array_equal(stored(loaded), upright(samples, orientation))
    assert loaded.dpi == ((100, 300) if orientation >= 5 else (300, 100))


def test_planar_16bit_rgb_tiff_is_right(tmp_path: Path) -> None:
    """The issue's example: OpenCV decoded this file to wrong values."""
    samples = random_samples(64, 48, 3, 16, seed=13)
    path = write(tmp_path / "p.tif", tiff_bytes(samples, planar=True, compression="zlib"))
    np.testing.assert_array_equal(stored(read_image(path)), samples)


# ---------------------------------------------------------------- PNG, JPEG, WebP, BMP


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_png_layouts_decode_exactly(tmp_path: Path, bits: int, layout: str) -> None:
    colour_type = {"gray": 0, "gray+alpha": 4, "rgb": 2, "rgba": 6}[layout]
    samples = random_samples(H, W, LAYOUTS[layout], bits, seed=14)
    loaded = read_image(write(tmp_path / "a.png", png_bytes(samples, colour_type)))
    assert loaded.bit_depth == bits
    np.testing.assert_array_equal(stored(loaded), samples)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_pngs_written_by_opencv_decode_exactly(tmp_path: Path, channels: int) -> None:
    samples = random_samples(H, W, channels, 16, seed=15)
    bgr = samples[..., 0] if channels == 1 else samples[..., [2, 1, 0, 3][:channels]]
    assert cv2.imwrite(str(tmp_path / "a.png"), bgr)
    np.testing.assert_array_equal(stored(read_image(tmp_path / "a.png")), samples)


@pytest.mark.parametrize("bits", [8, 16])
def test_png_transparent_colour_becomes_alpha(tmp_path: Path, bits: int) -> None:
    for channels, colour_type in ((1, 0), (3, 2)):
        samples = random_samples(H, W, channels, bits, seed=16)
        samples[::3, ::2] = samples[0, 0]  # many pixels of the transparent colour
        clear = samples[0, 0].astype(">u2").tobytes()  # tRNS holds 16-bit values
        path = write(tmp_path / "t.png", png_bytes(samples, colour_type, png_chunk(b"tRNS", clear)))
        loaded = read_image(path)
        assert loaded.bit_depth == bits
        np.testing.assert_array_equal(stored(loaded)[..., :channels], samples)
        transparent = (samples == samples[0, 0]).all(axis=2)
        np.testing.assert_array_equal(loaded.alpha, np.where(transparent, 0.0, 1.0))


def test_pngs_in_sequence_decode_exactly(tmp_path: Path) -> None:
    colour_types = {"gray": 0, "gray+alpha": 4, "rgb": 2, "rgba": 6}
    files = []
    for index, (bits, layout) in enumerate(itertools.product((8, 16), LAYOUTS)):
        samples = random_samples(H + index, W, LAYOUTS[layout], bits, seed=200 + index)
        path = write(tmp_path / f"{index}.png", png_bytes(samples, colour_types[layout]))
        files.append((path, samples))
    for path, samples in [*files, *reversed(files), *files]:
        np.testing.assert_array_equal(stored(read_image(path)), samples)


def pillow_reference(data: bytes) -> np.ndarray:
    """What Pillow decodes, in the layout read_image gives."""
    with Image.open(io.BytesIO(data)) as image:
        mode = {"1": "L", "P": "RGB", "CMYK": "RGB", "RGBX": "RGB"}.get(image.mode, image.mode)
        if "transparency" in image.info:
            mode += "A"
        return np.asarray(image.convert(mode)).reshape(image.height, image.width, -1)


PILLOW_CASES = [
    ("png", "1", {}),
    ("png", "P", {}),
    ("png", "P", {"transparency": 2}),
    ("png", "P", {"bits": 4}),
    ("png", "L", {"transparency": 9}),
    ("png", "RGB", {"transparency": (1, 2, 3)}),
    ("jpeg", "L", {"quality": 90}),
    ("jpeg", "RGB", {"quality": 90}),
    ("jpeg", "RGB", {"quality": 75, "subsampling": 2}),
    ("jpeg", "CMYK", {}),
    ("webp", "RGB", {"lossless": True}),
    ("webp", "RGBA", {"lossless": True, "exact": True}),
    ("webp", "RGB", {"quality": 80}),
    ("webp", "RGBA", {"quality": 80}),
    ("bmp", "1", {}),
    ("bmp", "L", {}),
    ("bmp", "P", {}),
    ("bmp", "RGB", {}),
    ("bmp", "RGBA", {}),
]


@pytest.mark.parametrize(("fmt", "mode", "options"), PILLOW_CASES)
def test_pillow_formats_match_pillow(tmp_path: Path, fmt: str, mode: str, options: dict) -> None:
    samples = random_samples(H, W, 4, 8, seed=17)
    if mode in ("1", "P", "L"):
        source = Image.fromarray(samples[..., 0] % 16 * 16).convert(mode)
    else:
        source = Image.fromarray(samples[..., : len(mode)], mode)
    out = io.BytesIO()
    source.save(out, format=fmt, **options)
    expected = pillow_reference(out.getvalue())
    loaded = read_image(write(tmp_path / f"a.{fmt}", out.getvalue()))
    assert loaded.bit_depth == 8
    np.testing.assert_array_equal(stored(loaded), expected)
    if options.get("lossless") or (fmt in ("png", "bmp") and mode in ("RGB", "RGBA")):
        np.testing.assert_array_equal(stored(loaded)[..., :3], np.asarray(source)[..., :3])


# ---------------------------------------------------------------- frames


def test_multi_page_and_animated_files_say_so(tmp_path: Path) -> None:
    samples = random_samples(H, W, 3, 8, seed=18)
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tif:
        for page in range(3):
            tif.write(samples + page, photometric="rgb", metadata=None)
    frames = [Image.fromarray(samples + k) for k in range(2)]
    for name in ("anim.png", "anim.webp"):
        frames[0].save(tmp_path / name, save_all=True, append_images=frames[1:], lossless=True)

    pages = read_image(tmp_path / "pages.tif")
    assert pages.frames == 3
    assert pages.warnings == ["3 pages: only the first is restored"]
    np.testing.assert_array_equal(stored(pages), samples)
    for name in ("anim.png", "anim.webp"):
        animated = read_image(tmp_path / name)
        assert (animated.frames, animated.warnings) == (2, ["2 frames: only the first is restored"])
        np.testing.assert_array_equal(stored(animated), samples)
    single = read_image(write(tmp_path / "one.tif", tiff_bytes(samples)))
    assert (single.frames, single.warnings) == (1, [])


# ---------------------------------------------------------------- pixel limit


def refuse_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every decoder fail loudly: a refused file must never reach one."""

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoder ran")

    monkeypatch.setattr(tifffile.TiffPage, "asarray", never)
    monkeypatch.setattr(ImageFile.ImageFile, "load", never)
    monkeypatch.setattr(cv2, "imdecode", never)


def huge_tiff(width: int, height: int) -> bytes:
    """A small zlib TIFF whose header claims ``width`` x ``height`` 16-bit samples."""
    data = tiff_bytes(np.zeros((64, 64, 1), np.uint16), compression="zlib", rowsperstrip=64)
    return patch_tiff_tag(patch_tiff_tag(data, 256, width), 257, height)


def huge_png(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height``, with one row of data."""
    return png_bytes(np.zeros((1, 8, 3), np.uint8), 2, size=(width, height))


def test_pixel_limit_is_checked_from_the_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert DEFAULT_MAX_PIXELS == 150_000_000
    tiff = write(tmp_path / "bomb.tif", huge_tiff(14000, 14000))
    png = write(tmp_path / "bomb.png", huge_png(20000, 20000))
    assert tiff.stat().st_size < 10_000
    refuse_decoding(monkeypatch)
    message = "14000 x 14000 pixels (196.0 megapixels) is over the limit of 150.0 megapixels"
    with pytest.raises(ImageReadError, match=rf"bomb\.tif: {re.escape(message)}"):
        read_image(tiff)
    with pytest.raises(ImageReadError, match=r"20000 x 20000 pixels \(400\.0 megapixels\)"):
        read_image(png)
    small = write(tmp_path / "small.png", png_bytes(np.zeros((5, 6, 1), np.uint8), 0))
    with pytest.raises(ImageReadError, match="6 x 5 pixels"):
        read_image(small, max_pixels=29)


def test_raised_pixel_limit_reaches_the_decoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No limit but ours: Pillow's bomb check (179 megapixels) does not refuse first."""
    assert Image.MAX_IMAGE_PIXELS is None
    tiff = write(tmp_path / "big.tif", huge_tiff(14000, 14000))
    png = write(tmp_path / "big.png", huge_png(15000, 12000))

    def reached(*args: object, **kwargs: object) -> None:
        raise RuntimeError("decoder reached")

    monkeypatch.setattr(tifffile.TiffPage, "asarray", reached)
    monkeypatch.setattr(ImageFile.ImageFile, "load", reached)
    for path in (tiff, png):
        for limit in (None, 0, 200_000_000):
            with pytest.raises(ImageReadError, match="decoder reached"):
                read_image(path, max_pixels=limit)


def test_pixel_limit_lets_smaller_files_through(tmp_path: Path) -> None:
    path = write(tmp_path / "a.png", png_bytes(np.zeros((5, 6, 1), np.uint8), 0))
    assert read_image(path, max_pixels=30).pixels.shape == (5, 6, 1)
    with pytest.raises(ValueError, match="max_pixels"):
        read_image(path, max_pixels=-1)


def test_signed_and_float_tiff_samples_are_refused(tmp_path: Path) -> None:
    for dtype in (np.int8, np.int16, np.float32):
        path = tmp_path / f"{np.dtype(dtype).name}.tif"
        tifffile.imwrite(path, np.array([[-1, 0, 1, 100]] * 4, dtype))
        with pytest.raises(ImageReadError, match="unsupported TIFF sample format"):
            read_image(path)


def strip_bomb(path: Path, compression: int, stream: bytes) -> Path:
    """A 16 x 16 TIFF whose one strip is ``stream``: no header shows what it inflates to."""
    tifffile.imwrite(path, np.zeros((16, 16), np.uint16), compression="zlib")
    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        offsets, counts, codec = page.tags[273], page.tags[279], page.tags[259]
        byteorder = tif.byteorder
    data = bytearray(path.read_bytes())
    start = len(data)
    data += stream
    kind = {3: "H", 4: "I"}
    struct.pack_into(byteorder + kind[offsets.dtype], data, offsets.valueoffset, start)
    struct.pack_into(byteorder + kind[counts.dtype], data, counts.valueoffset, len(stream))
    struct.pack_into(byteorder + "H", data, codec.valueoffset, compression)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("compression", "stream"),
    [
        (8, zlib.compress(b"\0" * (64 << 20), 9)),  # Adobe deflate
        (50013, zlib.compress(b"\0" * (64 << 20), 9)),  # PixTIFF: deflate by another number
        (32773, b"\x81\x00" * (1 << 20)),  # PackBits: 2 bytes -> 128, a megabyte of runs
    ],
)
def test_a_strip_that_inflates_beyond_the_image_is_refused(
    tmp_path: Path, compression: int, stream: bytes
) -> None:
    path = strip_bomb(tmp_path / "strip-bomb.tif", compression, stream)

    def reached(*args: object, **kwargs: object) -> None:
        raise AssertionError("the decoder was reached")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tifffile.TiffPage, "asarray", reached)
        with pytest.raises(ImageReadError, match="inflates beyond the image"):
            read_image(path)


def test_files_too_large_for_the_pixel_limit_are_not_read(tmp_path: Path) -> None:
    sparse = tmp_path / "sparse.png"
    with open(sparse, "wb") as fh:
        fh.truncate(3 << 30)  # 3 GB of nothing, no disk used
    with pytest.raises(ImageReadError, match="larger than any image within the pixel limit"):
        read_image(sparse)


def test_pipes_are_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageReadError, match="not a regular file"):
        read_image(fifo)
