"""restore.api.color: luma, channel conversion and the grayscale test."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data
from skimage.color import hsv2rgb, rgb2hsv

from restore.api.color import is_grayscale, is_toned_monochrome, luma, to_channels
from restore.io.images import read_image
from restore.testing import synthetic_photo


def gray_picture(height: int = 64, width: int = 96) -> np.ndarray:
    """A gray float32 H x W x 1 picture with shading, edges and texture."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    image = 0.2 + 0.6 * (x / width) * (0.5 + 0.5 * np.cos(y / height * 3))
    image[height // 4 : height // 2, width // 3 : width // 2] = 0.9
    image += 0.05 * np.sin(x * 1.3) * np.cos(y * 0.9)
    return np.clip(image, 0, 1)[..., None].astype(np.float32)


def test_luma_weights() -> None:
    primaries = np.eye(3, dtype=np.float32).reshape(1, 3, 3)
    result = luma(primaries)
    assert result.shape == (1, 3, 1)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result[0, :, 0], [0.299, 0.587, 0.114], rtol=1e-6)
    white = np.ones((2, 2, 3), np.float32)
    np.testing.assert_allclose(luma(white), 1.0, rtol=1e-6)


def test_luma_of_gray_is_identity() -> None:
    gray = gray_picture()
    assert luma(gray) is gray


def test_to_channels() -> None:
    gray = gray_picture()
    rgb = to_channels(gray, 3)
    assert rgb.shape == (*gray.shape[:2], 3)
    for channel in range(3):
        np.testing.assert_array_equal(rgb[..., channel], gray[..., 0])
    np.testing.assert_allclose(to_channels(rgb, 1), gray, atol=1e-6)
    colour = np.random.default_rng(0).random((5, 4, 3), dtype=np.float32)
    np.testing.assert_array_equal(to_channels(colour, 1), luma(colour))
    assert to_channels(gray, 1) is gray
    assert to_channels(colour, 3) is colour


def test_bad_channel_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        to_channels(gray_picture(), 2)
    with pytest.raises(ValueError):
        luma(np.zeros((4, 4, 4), np.float32))
    with pytest.raises(ValueError):
        is_grayscale(np.zeros((4, 4), np.float32))


def test_is_grayscale_on_gray_images() -> None:
    gray = gray_picture()
    assert is_grayscale(gray)
    assert is_grayscale(np.repeat(gray, 3, axis=2))


def test_is_grayscale_on_coloured_images() -> None:
    rgb = np.repeat(gray_picture(), 3, axis=2)
    rgb[..., 0] = np.clip(rgb[..., 0] + 0.1, 0, 1)
    assert not is_grayscale(rgb, tinted=False)
    assert is_grayscale(rgb)  # a uniformly tinted monochrome counts as gray


@pytest.mark.parametrize("cast", [(4, 0, 0), (0, 0, 4), (3, 0, -3), (5, 2, -4)])
def test_a_small_uniform_cast_is_gray(cast: tuple[int, int, int]) -> None:
    """A scanner's cast of a few levels per channel is gray, tint or no tint."""
    rgb = np.repeat(gray_picture(), 3, axis=2) + np.array(cast, np.float32) / 255
    assert is_grayscale(rgb, tinted=False)
    assert not is_grayscale(rgb, tolerance=2 / 255, tinted=False)


def test_is_grayscale_ignores_a_few_odd_pixels() -> None:
    rgb = np.repeat(gray_picture(), 3, axis=2)
    odd = np.random.default_rng(1).random(rgb.shape[:2]) < 0.005
    rgb[odd] = [1.0, 0.0, 0.0]
    assert is_grayscale(rgb, tinted=False)


def test_gray_stored_as_rgb_jpeg_is_grayscale(tmp_path: Path) -> None:
    samples = np.round(gray_picture(128, 160)[..., 0] * 255).astype(np.uint8)
    Image.fromarray(samples).convert("RGB").save(tmp_path / "g.jpg", quality=90)
    loaded = read_image(tmp_path / "g.jpg")
    assert loaded.pixels.shape[2] == 3
    assert is_grayscale(loaded.pixels)


def test_is_grayscale_on_huge_images_is_bounded() -> None:
    # Read-only broadcast views: 25 megapixels without 300 MB of memory.
    gray = np.broadcast_to(np.float32(0.5), (5000, 5000, 3))
    assert is_grayscale(gray)
    halves = np.array([[0.5, 0.4, 0.5], [0.4, 0.5, 0.4]], np.float32)[
        (np.arange(5000) >= 2500).astype(int)
    ]
    two_colours = np.broadcast_to(halves[:, None], (5000, 5000, 3))
    assert not is_grayscale(two_colours)
    tinted = np.broadcast_to(np.array([0.5, 0.4, 0.5], np.float32), (5000, 5000, 3))
    assert not is_grayscale(tinted, tinted=False)


SEPIA = np.array(
    [[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32
)  # the classic sepia-toning matrix (rows: output R, G, B)


def jpeg(pixels: np.ndarray, quality: int = 80) -> np.ndarray:
    """``pixels`` after an 8-bit JPEG round trip (4:2:0 chroma)."""
    buffer = io.BytesIO()
    samples = np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8)
    Image.fromarray(samples.squeeze()).save(buffer, "JPEG", quality=quality, subsampling="4:2:0")
    decoded = np.asarray(Image.open(buffer), dtype=np.float32) / 255
    return decoded if decoded.ndim == 3 else decoded[..., None]


def noisy(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Independent Gaussian noise of ``sigma`` (8-bit units) on every channel, as
    examples/make_images.py adds it."""
    return np.clip(image + rng.normal(0, sigma / 255, image.shape), 0, 1).astype(np.float32)


def scratches_and_dust(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bright scratches and dark specks, as examples/make_images.py draws them."""
    damaged = image.copy()
    height, width = image.shape[:2]
    channels = image.shape[2]
    for _ in range(4):
        x0, x1 = rng.integers(0, width, size=2)
        cv2.line(damaged, (int(x0), 0), (int(x1), height - 1), (0.95,) * channels, 1, cv2.LINE_AA)
    for _ in range(40):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(damaged, centre, int(rng.integers(1, 3)), (0.05,) * channels, -1, cv2.LINE_AA)
    return damaged


def gray_as_rgb(rgb: np.ndarray) -> np.ndarray:
    """A colour photo made gray (the channel mean) and stored as RGB."""
    return rgb.mean(axis=2, keepdims=True).repeat(3, axis=2)


def raw_spread(rgb: np.ndarray) -> float:
    """The 99th percentile over pixels of max - min over channels, in 8-bit levels."""
    return float(np.percentile(np.ptp(rgb, axis=2), 99)) * 255


def photo_gray() -> np.ndarray:
    """A natural gray photo (the astronaut's luma), H x W x 1."""
    return luma(data.astronaut()[::2, ::2].astype(np.float32) / 255)


def test_gray_photo_as_rgb_with_jpeg_noise_is_grayscale() -> None:
    assert is_grayscale(jpeg(np.repeat(photo_gray(), 3, axis=2), 60))


@pytest.mark.parametrize("source", ["synthetic", "coffee"])
def test_the_demo_coffee_scan_is_grayscale(source: str) -> None:
    """examples/make_images.py's coffee-bw-as-rgb.png: gray as RGB, noise of sigma 8 on
    each channel, scratches and dust."""
    photo = synthetic_photo(400, 600) if source == "synthetic" else data.coffee() / 255
    rng = np.random.default_rng(2026)
    scan = scratches_and_dust(noisy(gray_as_rgb(photo.astype(np.float32)), 8, rng), rng)
    assert raw_spread(scan) > 25  # per pixel the channels disagree by far more than 2 levels
    assert is_grayscale(scan, tinted=False)


@pytest.mark.parametrize("size", [(96, 128), (384, 512)])
@pytest.mark.parametrize("sigma", [4, 10, 18, 25])
def test_noisy_gray_as_rgb_is_grayscale(size: tuple[int, int], sigma: int) -> None:
    gray = gray_as_rgb(synthetic_photo(*size, seed=sigma))
    scan = noisy(gray, sigma, np.random.default_rng(sigma))
    assert raw_spread(scan) > 3.5 * sigma
    assert is_grayscale(scan, tinted=False)


@pytest.mark.parametrize("quality", [50, 90])
@pytest.mark.parametrize("sigma", [0, 12])
def test_jpeg_gray_as_rgb_is_grayscale(quality: int, sigma: int) -> None:
    """Gray scans stored as RGB JPEG (4:2:0), clean or noisy before compression."""
    for photo in (synthetic_photo(384, 512), data.chelsea() / 255):
        scan = noisy(gray_as_rgb(photo.astype(np.float32)), sigma, np.random.default_rng(3))
        assert is_grayscale(jpeg(scan, quality), tinted=False)


@pytest.mark.parametrize("sigma", [0, 15])
@pytest.mark.parametrize("quality", [None, 75])
def test_sepia_and_cyanotype_toned_photos_are_grayscale(quality: int | None, sigma: int) -> None:
    gray = noisy(photo_gray(), sigma, np.random.default_rng(4))
    sepia = np.clip(gray @ SEPIA.sum(axis=1, keepdims=True).T, 0, 1)
    cyanotype = np.clip(gray * [0.55, 0.8, 1.0] + [0.0, 0.05, 0.2], 0, 1).astype(np.float32)
    for toned in (sepia, cyanotype):
        toned = toned if quality is None else jpeg(toned, quality)
        assert not is_grayscale(toned, tinted=False)
        assert is_toned_monochrome(toned) and is_grayscale(toned)


def test_colour_photos_are_not_grayscale() -> None:
    astronaut = data.astronaut().astype(np.float32) / 255
    assert not is_grayscale(astronaut) and not is_toned_monochrome(astronaut)
    assert not is_grayscale(jpeg(astronaut[::2, ::2], 60))
    assert not is_grayscale(synthetic_photo())
    for name in ("coffee", "chelsea"):  # warm and muted, but several hues
        photo = getattr(data, name)().astype(np.float32) / 255
        assert not is_grayscale(photo) and not is_grayscale(jpeg(photo, 50))


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_desaturated_colour_photos_are_not_grayscale(name: str) -> None:
    hsv = rgb2hsv(getattr(data, name)())
    hsv[..., 1] *= 0.3
    muted = hsv2rgb(hsv).astype(np.float32)
    assert not is_grayscale(muted) and not is_grayscale(jpeg(muted, 75))


@pytest.mark.parametrize("area", [0.03, 0.05])
@pytest.mark.parametrize("source", ["synthetic", "coffee"])
def test_a_gray_photo_with_a_small_red_object_is_colour(source: str, area: float) -> None:
    photo = synthetic_photo() if source == "synthetic" else data.coffee() / 255
    image = gray_as_rgb(photo.astype(np.float32))
    height, width = image.shape[:2]
    side = round(np.sqrt(area * height * width))
    top, left = height // 5, width // 3
    image[top : top + side, left : left + side] = [0.8, 0.15, 0.1]
    assert is_grayscale(gray_as_rgb(image))  # the same photo without the colour
    assert not is_grayscale(image)
    assert not is_grayscale(noisy(image, 10, np.random.default_rng(5)))
