"""restore.api.color: luma, channel conversion and the grayscale test."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

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
    slight = np.repeat(gray_picture(), 3, axis=2)
    slight[..., 2] += 4 / 255  # a faint but uniform tint
    assert not is_grayscale(slight, tinted=False)
    assert is_grayscale(slight, tolerance=5 / 255, tinted=False)
    assert is_grayscale(slight)  # by default a uniformly tinted monochrome counts as gray


def test_is_grayscale_ignores_a_few_odd_pixels() -> None:
    rgb = np.repeat(gray_picture(), 3, axis=2)
    odd = np.random.default_rng(1).random(rgb.shape[:2]) < 0.005
    rgb[odd] = [1.0, 0.0, 0.0]
    assert is_grayscale(rgb)
    rgb[np.random.default_rng(2).random(rgb.shape[:2]) < 0.05] = [1.0, 0.0, 0.0]
    assert not is_grayscale(rgb)


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
    Image.fromarray(samples.squeeze()).save(buffer, "JPEG", quality=quality)
    decoded = np.asarray(Image.open(buffer), dtype=np.float32) / 255
    return decoded if decoded.ndim == 3 else decoded[..., None]


def photo_gray() -> np.ndarray:
    """A natural gray photo (the astronaut's luma), H x W x 1."""
    return luma(data.astronaut()[::2, ::2].astype(np.float32) / 255)


def test_gray_photo_as_rgb_with_jpeg_noise_is_grayscale() -> None:
    assert is_grayscale(jpeg(np.repeat(photo_gray(), 3, axis=2), 60))


@pytest.mark.parametrize("quality", [None, 75])
def test_sepia_and_cyanotype_toned_photos_are_grayscale(quality: int | None) -> None:
    gray = photo_gray()
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
    coffee = data.coffee().astype(np.float32) / 255  # warm, muted, but several hues
    assert not is_grayscale(coffee)
