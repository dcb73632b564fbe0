"""restore.io.images: real files written and read back in a temporary folder."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps

from restore.api.errors import ImageReadError, ImageWriteError
from restore.io.images import SUPPORTED_SUFFIXES, format_for_suffix, read_image, write_image

H, W = 24, 36
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def photo8(channels: int = 3, seed: int = 0) -> np.ndarray:
    """A smooth uint8 picture with an edge and mild texture (kind to lossy codecs)."""
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    base = 40 + 150 * (x / W) * (0.6 + 0.4 * y / H) + 8 * np.sin(x * 0.7 + seed)
    base[H // 3 : H // 2, W // 4 : W // 2] = 220
    planes = [base, 255 - base * 0.8, np.full_like(base, 60 + 40 * seed % 100)][:channels]
    return np.clip(np.stack(planes, axis=2), 0, 255).round().astype(np.uint8)


def random16(channels: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, (H, W, channels), dtype=np.uint16)


def as_float(samples: np.ndarray) -> np.ndarray:
    scale = 65535 if samples.dtype == np.uint16 else 255
    if samples.ndim == 2:
        samples = samples[..., None]
    return samples.astype(np.float32) / scale


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_png16(path: Path, samples: np.ndarray, colour_type: int, *extra: bytes) -> None:
    """A minimal 16-bit PNG (for layouts no library here writes, e.g. gray+alpha)."""
    height, width = samples.shape[:2]
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in samples)
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + b"".join(extra)
        + png_chunk(b"IDAT", zlib.compress(rows))
        + png_chunk(b"IEND", b"")
    )


def exif_bytes(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


# ---------------------------------------------------------------- formats


def test_format_for_suffix() -> None:
    assert {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"} == SUPPORTED_SUFFIXES
    expected = {".png": "PNG", ".JPG": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF"}
    expected |= {".TIFF": "TIFF", ".webp": "WEBP", ".bmp": "BMP"}
    for suffix, fmt in expected.items():
        assert format_for_suffix(Path("a" + suffix)) == fmt
    with pytest.raises(ImageWriteError, match=r"out\.gif"):
        format_for_suffix("out.gif")
    with pytest.raises(ImageWriteError):
        format_for_suffix("noext")


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp"])
@pytest.mark.parametrize("channels", [1, 3])
def test_lossless_8bit_round_trip(tmp_path: Path, suffix: str, channels: int) -> None:
    samples = photo8(channels)
    out = write_image(tmp_path / f"out{suffix}", as_float(samples))
    assert out == tmp_path / f"out{suffix}"
    loaded = read_image(out)
    assert loaded.format == format_for_suffix(out)
    assert loaded.bit_depth == 8
    assert loaded.alpha is None
    assert loaded.path == out
    assert loaded.pixels.dtype == np.float32
    assert loaded.pixels.shape == (H, W, channels)
    np.testing.assert_array_equal(loaded.pixels, as_float(samples))


def test_read_pillow_files_of_every_format_exactly(tmp_path: Path) -> None:
    samples = photo8(3)
    for name, options in [
        ("a.png", {}),
        ("a.tif", {"compression": "tiff_lzw"}),
        ("a.bmp", {}),
        ("a.webp", {"lossless": True}),
    ]:
        Image.fromarray(samples).save(tmp_path / name, **options)
        np.testing.assert_array_equal(read_image(tmp_path / name).pixels, as_float(samples))


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".webp"])
@pytest.mark.parametrize("channels", [1, 3])
def test_lossy_8bit_round_trip(tmp_path: Path, suffix: str, channels: int) -> None:
    pixels = as_float(photo8(channels))
    loaded = read_image(write_image(tmp_path / f"out{suffix}", pixels, quality=95))
    assert loaded.bit_depth == 8
    if suffix == ".webp" and channels == 1:  # WebP has no gray: stored as equal RGB
        assert loaded.pixels.shape == (H, W, 3)
        pixels = np.repeat(pixels, 3, axis=2)
    assert loaded.pixels.shape == pixels.shape
    error = np.abs(loaded.pixels - pixels) * 255
    mean, p99 = (4, 48) if suffix == ".webp" else (2, 8)  # lossy WebP is always 4:2:0
    assert error.mean() < mean
    assert np.percentile(error, 99) < p99


def test_jpeg_quality_changes_size(tmp_path: Path) -> None:
    pixels = as_float(photo8(3))
    low = write_image(tmp_path / "low.jpg", pixels, quality=20)
    high = write_image(tmp_path / "high.jpg", pixels, quality=98)
    assert low.stat().st_size < high.stat().st_size


def test_write_rounds_clips_and_accepts_2d(tmp_path: Path) -> None:
    pixels = np.array([[10.6 / 255, 10.4 / 255, -0.5, 1.7]], dtype=np.float32)
    loaded = read_image(write_image(tmp_path / "r.png", pixels))
    assert loaded.pixels.shape == (1, 4, 1)
    np.testing.assert_array_equal(loaded.pixels[0, :, 0] * 255, [11, 10, 0, 255])


def test_write_rejects_bad_input(tmp_path: Path) -> None:
    good = np.zeros((4, 5, 3), np.float32)
    with pytest.raises(ImageWriteError, match="shape"):
        write_image(tmp_path / "a.png", np.zeros((4, 5, 2), np.float32))
    with pytest.raises(ImageWriteError, match="alpha"):
        write_image(tmp_path / "a.png", good, alpha=np.zeros((5, 4), np.float32))
    with pytest.raises(ImageWriteError, match="bit depth"):
        write_image(tmp_path / "a.png", good, bit_depth=12)
    with pytest.raises(ImageWriteError, match="zero size"):
        write_image(tmp_path / "a.png", np.zeros((0, 5, 3), np.float32))
    with pytest.raises(ImageWriteError, match="unsupported"):
        write_image(tmp_path / "a.gif", good)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- 16 bit


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_read_16bit_written_by_opencv(tmp_path: Path, suffix: str, channels: int) -> None:
    rgb = random16(channels)
    bgr = rgb[..., 0] if channels == 1 else rgb[..., [2, 1, 0, 3][:channels]]
    assert cv2.imwrite(str(tmp_path / f"a{suffix}"), bgr)
    loaded = read_image(tmp_path / f"a{suffix}")
    assert loaded.bit_depth == 16
    colour = min(channels, 3)
    np.testing.assert_array_equal(loaded.pixels, as_float(rgb[..., :colour]))
    if channels == 4:
        np.testing.assert_array_equal(loaded.alpha, as_float(rgb[..., 3])[..., 0])
    else:
        assert loaded.alpha is None


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_read_16bit_tiff_written_by_tifffile(tmp_path: Path, channels: int) -> None:
    samples = random16(channels)
    tifffile.imwrite(
        tmp_path / "a.tif",
        samples[..., 0] if channels == 1 else samples,
        photometric="minisblack" if channels <= 2 else "rgb",
        extrasamples=("unassalpha",) if channels in (2, 4) else None,
        compression="zlib",
    )
    loaded = read_image(tmp_path / "a.tif")
    colour = 1 if channels <= 2 else 3
    assert loaded.bit_depth == 16
    np.testing.assert_array_equal(loaded.pixels, as_float(samples[..., :colour]))
    if channels in (2, 4):
        np.testing.assert_array_equal(loaded.alpha, as_float(samples[..., colour])[..., 0])


def test_read_16bit_gray_alpha_png(tmp_path: Path) -> None:
    samples = random16(2)
    write_png16(tmp_path / "ga.png", samples, 4)
    loaded = read_image(tmp_path / "ga.png")
    assert loaded.bit_depth == 16
    np.testing.assert_array_equal(loaded.pixels, as_float(samples[..., :1]))
    np.testing.assert_array_equal(loaded.alpha, as_float(samples[..., 1])[..., 0])


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize(("channels", "with_alpha"), [(1, False), (3, False), (3, True)])
def test_write_16bit_round_trip_is_exact(
    tmp_path: Path, suffix: str, channels: int, with_alpha: bool
) -> None:
    pixels = as_float(random16(channels, seed=2))
    alpha = as_float(random16(1, seed=3))[..., 0] if with_alpha else None
    out = write_image(tmp_path / f"out{suffix}", pixels, alpha=alpha, bit_depth=16)
    loaded = read_image(out)
    assert loaded.bit_depth == 16
    np.testing.assert_array_equal(loaded.pixels, pixels)
    if with_alpha:
        np.testing.assert_array_equal(loaded.alpha, alpha)
    else:
        assert loaded.alpha is None


def test_write_16bit_gray_alpha(tmp_path: Path) -> None:
    gray = as_float(random16(1, seed=4))
    alpha = as_float(random16(1, seed=5))[..., 0]
    tif = read_image(write_image(tmp_path / "ga.tif", gray, alpha=alpha, bit_depth=16))
    np.testing.assert_array_equal(tif.pixels, gray)
    np.testing.assert_array_equal(tif.alpha, alpha)
    png = read_image(write_image(tmp_path / "ga.png", gray, alpha=alpha, bit_depth=16))
    np.testing.assert_array_equal(png.pixels, np.repeat(gray, 3, axis=2))  # stored as RGBA
    np.testing.assert_array_equal(png.alpha, alpha)


@pytest.mark.parametrize("suffix", [".jpg", ".webp", ".bmp"])
def test_16bit_request_falls_back_to_8bit(tmp_path: Path, suffix: str) -> None:
    loaded = read_image(write_image(tmp_path / f"a{suffix}", as_float(photo8(3)), bit_depth=16))
    assert loaded.bit_depth == 8


# ---------------------------------------------------------------- alpha and modes


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_read_8bit_alpha(tmp_path: Path, mode: str) -> None:
    colour = photo8(3 if mode == "RGBA" else 1)
    alpha = np.random.default_rng(0).integers(0, 256, (H, W, 1), dtype=np.uint8)
    Image.fromarray(np.concatenate([colour, alpha], axis=2), mode).save(tmp_path / "a.png")
    loaded = read_image(tmp_path / "a.png")
    np.testing.assert_array_equal(loaded.pixels, as_float(colour))
    np.testing.assert_array_equal(loaded.alpha, as_float(alpha)[..., 0])


@pytest.mark.parametrize("suffix", [".png", ".tif", ".webp"])
@pytest.mark.parametrize("channels", [1, 3])
def test_write_8bit_alpha(tmp_path: Path, suffix: str, channels: int) -> None:
    pixels = as_float(photo8(channels))
    alpha = as_float(photo8(1, seed=3))[..., 0]
    loaded = read_image(write_image(tmp_path / f"a{suffix}", pixels, alpha=alpha))
    np.testing.assert_array_equal(loaded.alpha, alpha)  # WebP keeps alpha losslessly
    if suffix != ".webp":
        np.testing.assert_array_equal(loaded.pixels, pixels)


@pytest.mark.parametrize("suffix", [".jpg", ".bmp"])
def test_alpha_dropped_where_unsupported(tmp_path: Path, suffix: str) -> None:
    alpha = np.ones((H, W), np.float32)
    loaded = read_image(write_image(tmp_path / f"a{suffix}", as_float(photo8(3)), alpha=alpha))
    assert loaded.alpha is None
    assert loaded.pixels.shape == (H, W, 3)


def test_palette_with_and_without_transparency(tmp_path: Path) -> None:
    indices = (np.arange(H * W).reshape(H, W) % 4).astype(np.uint8)
    image = Image.fromarray(indices, "P")
    palette = [255, 0, 0, 0, 255, 0, 0, 0, 255, 250, 250, 250]
    image.putpalette(palette)
    image.save(tmp_path / "p.png")
    image.save(tmp_path / "pt.png", transparency=bytes([255, 128, 0, 255]))
    colours = as_float(np.array(palette, np.uint8).reshape(4, 3))[..., 0]

    plain = read_image(tmp_path / "p.png")
    assert plain.alpha is None
    np.testing.assert_array_equal(plain.pixels, colours[indices])

    clear = read_image(tmp_path / "pt.png")
    np.testing.assert_array_equal(clear.pixels, colours[indices])
    np.testing.assert_array_equal(clear.alpha * 255, np.array([255, 128, 0, 255])[indices])


def test_single_colour_transparency(tmp_path: Path) -> None:
    gray = photo8(1)[..., 0]
    Image.fromarray(gray).save(tmp_path / "t.png", transparency=int(gray[0, 0]))
    loaded = read_image(tmp_path / "t.png")
    assert loaded.pixels.shape == (H, W, 1)
    np.testing.assert_array_equal(loaded.alpha == 0, gray == gray[0, 0])


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_cmyk_becomes_rgb(tmp_path: Path, suffix: str) -> None:
    cmyk = np.concatenate([photo8(3), photo8(1, seed=2) // 3], axis=2)
    source = Image.fromarray(cmyk, "CMYK")
    source.save(tmp_path / f"c{suffix}")
    loaded = read_image(tmp_path / f"c{suffix}")
    assert loaded.pixels.shape == (H, W, 3)
    expected = as_float(np.asarray(source.convert("RGB")))
    assert np.abs(loaded.pixels - expected).mean() < 3 / 255


def test_one_bit_becomes_gray(tmp_path: Path) -> None:
    bits = (np.arange(H * W).reshape(H, W) % 3 == 0).astype(np.uint8) * 255
    Image.fromarray(bits).convert("1").save(tmp_path / "b.png")
    Image.fromarray(bits).convert("1").save(tmp_path / "b.tif")
    for name in ("b.png", "b.tif"):
        loaded = read_image(tmp_path / name)
        assert loaded.bit_depth == 8
        np.testing.assert_array_equal(loaded.pixels[..., 0], bits / 255)


# ---------------------------------------------------------------- orientation


def asymmetric(channels: int) -> np.ndarray:
    """Non-square, with no symmetry: every orientation gives different samples."""
    y, x = np.mgrid[0:H, 0:W]
    planes = [(x * 7 + y * 3) % 256, (x * x + 5 * y) % 256, (y * y + x) % 256, (x + y * W) % 256]
    return np.stack(planes[:channels], axis=2).astype(np.uint8)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp"])
def test_exif_orientation_applied(tmp_path: Path, orientation: int, suffix: str) -> None:
    path = tmp_path / f"o{suffix}"
    options = {"lossless": True} if suffix == ".webp" else {}
    Image.fromarray(asymmetric(3)).save(path, exif=exif_bytes(orientation), **options)
    with Image.open(path) as image:
        assert image.getexif().get(0x0112) == orientation
        upright = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    loaded = read_image(path)
    np.testing.assert_array_equal(loaded.pixels, as_float(upright))


@pytest.mark.parametrize("orientation", [2, 5, 6, 7, 8])
def test_exif_orientation_applied_to_alpha(tmp_path: Path, orientation: int) -> None:
    rgba = asymmetric(4)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "o.png", exif=exif_bytes(orientation))
    with Image.open(tmp_path / "o.png") as image:
        upright = np.asarray(ImageOps.exif_transpose(image))
    loaded = read_image(tmp_path / "o.png")
    np.testing.assert_array_equal(loaded.pixels, as_float(upright[..., :3]))
    np.testing.assert_array_equal(loaded.alpha, as_float(upright[..., 3])[..., 0])


def upright_index(orientation: int) -> np.ndarray:
    """Where Pillow's exif_transpose takes each pixel: flat source indices, upright."""
    index = Image.fromarray(np.arange(H * W, dtype=np.int32).reshape(H, W))
    index.getexif()[0x0112] = orientation
    return np.asarray(ImageOps.exif_transpose(index))


@pytest.mark.parametrize("orientation", [3, 6, 7])
def test_exif_orientation_applied_to_16bit(tmp_path: Path, orientation: int) -> None:
    samples = random16(3)
    expected = as_float(samples.reshape(H * W, 3)[upright_index(orientation)])
    tifffile.imwrite(
        tmp_path / "o.tif", samples, photometric="rgb", extratags=[(274, "H", 1, orientation)]
    )
    exif_chunk = png_chunk(b"eXIf", exif_bytes(orientation)[6:])  # without "Exif\0\0"
    write_png16(tmp_path / "o.png", samples, 2, exif_chunk)
    for name in ("o.tif", "o.png"):
        loaded = read_image(tmp_path / name)
        assert loaded.bit_depth == 16
        np.testing.assert_array_equal(loaded.pixels, expected)


def test_written_files_are_upright(tmp_path: Path) -> None:
    Image.fromarray(asymmetric(3)).save(tmp_path / "in.jpg", exif=exif_bytes(6))
    loaded = read_image(tmp_path / "in.jpg")
    for suffix in (".jpg", ".png", ".webp", ".tif"):
        out = write_image(tmp_path / f"out{suffix}", loaded.pixels)
        with Image.open(out) as image:
            assert image.getexif().get(0x0112) in (None, 1)
            assert image.size == (H, W)  # (width, height) of the turned picture


# ---------------------------------------------------------------- ICC profiles


def test_icc_profile_carried(tmp_path: Path) -> None:
    Image.fromarray(photo8(3)).save(tmp_path / "in.png", icc_profile=SRGB)
    loaded = read_image(tmp_path / "in.png")
    assert loaded.icc_profile == SRGB
    outputs = {
        "o8.png": 8,
        "o.jpg": 8,
        "o.webp": 8,
        "o8.tif": 8,
        "o16.png": 16,
        "o16.tif": 16,
    }
    for name, depth in outputs.items():
        out = write_image(
            tmp_path / name, loaded.pixels, bit_depth=depth, icc_profile=loaded.icc_profile
        )
        assert read_image(out).icc_profile == SRGB, name
        with Image.open(out) as image:  # Pillow reads it too (and checks the iCCP CRC)
            image.load()
            assert image.info.get("icc_profile") == SRGB, name


def test_icc_profile_of_wrong_colour_space_is_dropped(tmp_path: Path) -> None:
    gray = as_float(photo8(1))
    assert read_image(write_image(tmp_path / "g.png", gray, icc_profile=SRGB)).icc_profile is None
    rgb = as_float(photo8(3))
    assert read_image(write_image(tmp_path / "c.png", rgb, icc_profile=SRGB)).icc_profile == SRGB
    assert read_image(write_image(tmp_path / "n.png", rgb)).icc_profile is None


# ---------------------------------------------------------------- read errors


def assert_read_error(path: Path, match: str) -> None:
    with pytest.raises(ImageReadError, match=match) as caught:
        read_image(path)
    message = str(caught.value)
    assert str(path) in message
    assert "\n" not in message
    assert caught.value.path == path


def test_read_errors(tmp_path: Path) -> None:
    assert_read_error(tmp_path / "missing.png", "not found")
    assert_read_error(tmp_path, "directory")
    (tmp_path / "empty.png").write_bytes(b"")
    assert_read_error(tmp_path / "empty.png", "empty")
    (tmp_path / "text.png").write_text("this is not an image\n")
    assert_read_error(tmp_path / "text.png", "not a recognised image")
    Image.fromarray(photo8(3)).save(tmp_path / "a.gif")
    assert_read_error(tmp_path / "a.gif", "unsupported image format GIF")
    Image.new("F", (4, 3)).save(tmp_path / "f.tif")
    assert_read_error(tmp_path / "f.tif", "unsupported TIFF sample format")
    header = struct.pack(">IIBBBBB", 0, 5, 8, 0, 0, 0, 0)
    (tmp_path / "zero.png").write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header))
    assert_read_error(tmp_path / "zero.png", "not a recognised image")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif", ".webp"])
def test_truncated_files_are_detected(tmp_path: Path, suffix: str) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / f"whole{suffix}")
    data = (tmp_path / f"whole{suffix}").read_bytes()
    (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
    assert_read_error(tmp_path / f"cut{suffix}", "cannot decode image")


def test_truncated_16bit_png_is_detected(tmp_path: Path) -> None:
    cv2.imwrite(str(tmp_path / "whole.png"), random16(3))
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    assert_read_error(tmp_path / "cut.png", "truncated")


# ---------------------------------------------------------------- atomic writes


def test_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    pixels = as_float(photo8(3))
    for name in ("a.png", "b.jpg", "c.tif", "d.webp", "e.bmp"):
        write_image(tmp_path / name, pixels)
    write_image(tmp_path / "f.png", pixels, bit_depth=16)
    write_image(tmp_path / "a.png", pixels)  # over an existing file
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["a.png", "b.jpg", "c.tif", "d.webp", "e.bmp", "f.png"]


def test_write_creates_parent_folders(tmp_path: Path) -> None:
    out = write_image(tmp_path / "x" / "y" / "z.png", as_float(photo8(1)))
    assert out.is_file()


def test_failed_encode_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.png"
    write_image(target, as_float(photo8(3)))
    before = target.read_bytes()

    def broken_save(*args: object, **kwargs: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(ImageWriteError, match="disk on fire") as caught:
        write_image(target, as_float(photo8(3, seed=5)))
    assert str(target) in str(caught.value)
    monkeypatch.setattr(cv2, "imencode", lambda *args, **kwargs: (False, None))
    with pytest.raises(ImageWriteError, match="16-bit PNG"):
        write_image(target, as_float(photo8(3, seed=5)), bit_depth=16)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_write_over_a_directory_fails_cleanly(tmp_path: Path) -> None:
    (tmp_path / "d.png").mkdir()
    with pytest.raises(ImageWriteError):
        write_image(tmp_path / "d.png", as_float(photo8(1)))
    assert [p.name for p in tmp_path.iterdir()] == ["d.png"]


def test_protect_refuses_to_overwrite_inputs(tmp_path: Path) -> None:
    source = tmp_path / "in.png"
    Image.fromarray(photo8(3)).save(source)
    before = source.read_bytes()
    (tmp_path / "sub").mkdir()
    pixels = as_float(photo8(3, seed=9))
    for spelling in (source, tmp_path / "sub" / ".." / "in.png"):
        with pytest.raises(ImageWriteError, match="refusing to overwrite an input file"):
            write_image(spelling, pixels, protect=[source])
    (tmp_path / "link.png").symlink_to(source)
    with pytest.raises(ImageWriteError, match="refusing"):
        write_image(tmp_path / "in.png", pixels, protect={tmp_path / "link.png"})
    assert source.read_bytes() == before
    out = write_image(tmp_path / "out.png", pixels, protect=[source])
    assert out.is_file()


def test_exif_is_carried_upright_to_jpeg_png_and_webp(tmp_path: Path) -> None:
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0112] = "Kodak", "Brownie", 6  # make, model, rotated
    source = tmp_path / "camera.jpg"
    Image.new("RGB", (40, 20), (90, 120, 150)).save(source, exif=exif.tobytes())
    loaded = read_image(source)
    assert loaded.pixels.shape == (40, 20, 3)  # orientation 6 applied
    for suffix in (".jpg", ".png", ".webp"):
        out = write_image(tmp_path / f"out{suffix}", loaded.pixels, exif=loaded.exif)
        with Image.open(out) as written:
            tags = written.getexif()
        assert (tags[0x010F], tags[0x0110], tags[0x0112]) == ("Kodak", "Brownie", 1), suffix
