"""The embedding API refuses arrays it cannot interpret instead of guessing."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from corpus import ONE_OUTPUT

from restore import Pipeline
from restore.testing import synthetic_photo


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    path: Path = tmp_path_factory.mktemp("library") / "pipe.yaml"
    path.write_text(ONE_OUTPUT)
    return Pipeline.from_yaml(path)


def one_line_error(call: Callable[[], object]) -> str:
    try:
        call()
    except Exception as error:
        message = str(error).strip()
        assert message, f"{type(error).__name__} without a message"
        assert "\n" not in message, f"the message is not one line:\n{message}"
        return message
    raise AssertionError("no error was raised")


def test_nan_is_refused(pipeline: Pipeline) -> None:
    image = synthetic_photo(24, 32)
    image[3, 4, 1] = np.nan
    message = one_line_error(lambda: pipeline.run(image))
    assert re.search(r"nan|non-finite|not finite", message, re.IGNORECASE), message


def test_float_array_in_0_255_is_refused(pipeline: Pipeline) -> None:
    image = (synthetic_photo(24, 32) * 255).astype(np.float32)
    one_line_error(lambda: pipeline.run(image))


def test_int32_array_is_read_like_uint8(pipeline: Pipeline) -> None:
    eight_bit = np.round(synthetic_photo(24, 32) * 255).astype(np.uint8)
    as_uint8 = pipeline.run(eight_bit).image
    as_int32 = pipeline.run(eight_bit.astype(np.int32)).image
    assert as_uint8.max() > 0.5, "the uint8 result should not be black"
    np.testing.assert_array_equal(as_int32, as_uint8)
