"""image_from_array: library input, read by dtype and range or refused."""

from __future__ import annotations

import numpy as np
import pytest

from restore.io.images import image_from_array


def test_uint8_uint16_and_bool_scale_by_type() -> None:
    assert image_from_array(np.full((2, 3), 255, np.uint8)).pixels.max() == 1
    wide = image_from_array(np.full((2, 3, 3), 65535, np.uint16))
    assert (wide.bit_depth, wide.pixels.max()) == (16, 1)
    low = image_from_array(np.full((2, 3), 255, np.uint16))  # uint16 is always 16-bit
    assert low.bit_depth == 16 and low.pixels.max() == pytest.approx(255 / 65535)
    mask = image_from_array(np.array([[True, False]]))
    assert (mask.bit_depth, mask.pixels[0, :, 0].tolist()) == (8, [1.0, 0.0])


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint32, np.uint64])
def test_other_integers_are_read_by_range(dtype: type) -> None:
    top = min(255, np.iinfo(dtype).max)  # int8 cannot hold 255
    eight = image_from_array(np.array([[0, 51, top]], dtype=dtype))
    np.testing.assert_allclose(eight.pixels[0, :, 0], [0, 0.2, top / 255])
    assert eight.bit_depth == 8
    if np.iinfo(dtype).max >= 65535:
        sixteen = image_from_array(np.array([[0, 256, 65535]], dtype=dtype))
        assert sixteen.bit_depth == 16
        np.testing.assert_allclose(sixteen.pixels[0, :, 0], [0, 256 / 65535, 1])
    if np.iinfo(dtype).min < 0:
        with pytest.raises(ValueError, match=r"got -1 \.\. 3"):
            image_from_array(np.array([[-1, 3]], dtype=dtype))
    if np.iinfo(dtype).max > 65535:
        with pytest.raises(ValueError, match=r"0 \.\. 65535, got 0 \.\. 70000"):
            image_from_array(np.array([[0, 70000]], dtype=dtype))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_floats_must_lie_in_0_1(dtype: type) -> None:
    slightly = image_from_array(np.array([[-0.005, 0.5, 1.005]], dtype=dtype))
    assert slightly.pixels.dtype == np.float32
    np.testing.assert_allclose(slightly.pixels[0, :, 0], [0, 0.5, 1], atol=1e-3)
    with pytest.raises(
        ValueError, match=r"\[0, 1\], got 0 \.\. 255 \(divide by 255, or pass uint8\)"
    ):
        image_from_array(np.array([[0, 255]], dtype=dtype))
    with pytest.raises(ValueError, match=r"got -0\.5 \.\. 1"):
        image_from_array(np.array([[-0.5, 1]], dtype=dtype))
    for bad in (np.nan, np.inf, -np.inf):
        with pytest.raises(ValueError, match="image array contains NaN or infinite values"):
            image_from_array(np.array([[0.5, bad]], dtype=dtype))


def test_layouts_and_refusals() -> None:
    rgba = image_from_array(np.zeros((4, 5, 4), np.float32))
    assert rgba.pixels.shape == (4, 5, 3) and rgba.alpha is not None
    assert image_from_array(np.zeros((4, 5, 2), np.uint8)).pixels.shape == (4, 5, 1)
    for bad in (np.zeros((4, 5), np.complex64), np.array([["a"]]), np.array([[None]])):
        with pytest.raises(ValueError, match="unsupported image array type"):
            image_from_array(bad)
    with pytest.raises(ValueError, match="H x W"):
        image_from_array(np.zeros((4, 5, 6), np.float32))
    with pytest.raises(ValueError, match="zero size"):
        image_from_array(np.zeros((0, 5), np.float32))
