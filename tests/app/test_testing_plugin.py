"""The restore.testing pytest plugin's fixtures, and the process-wide model cache."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import restore_sharpen
import torch
from restore_sharpen.unsharp import Unsharp

from restore import Stage, Tiling
from restore.api.models import ModelCache


def test_fixtures_for_plugin_authors(restore_registry, sample_image, sample_gray) -> None:
    registry = restore_registry(restore_sharpen)
    assert set(registry.stages) == {"sharpen.unsharp", "sharpen.cnn"}
    assert sample_image.shape == (96, 128, 3) and sample_gray.shape == (96, 128, 1)
    assert sample_image.dtype == "float32" and 0 <= sample_image.min() < sample_image.max() <= 1


def test_tiling_exactness_passes_an_honest_stage(tiling_exactness, sample_image) -> None:
    tiling_exactness(Unsharp, sample_image, tile=48)


def test_tiling_exactness_catches_a_lying_halo(tiling_exactness, sample_image) -> None:
    class WideBlur(Stage):
        name = "toy.wide_blur"
        tiling = Tiling(halo=1)  # the 9 x 9 box below needs 4

        def process(self, inputs, params):
            image = inputs["image"]
            kernel = torch.ones(image.shape[1], 1, 9, 9) / 81
            return {"image": torch.nn.functional.conv2d(image, kernel, padding=4, groups=3)}

    with pytest.raises(AssertionError):
        tiling_exactness(WideBlur, sample_image, tile=32)


def test_model_cache_builds_once_under_concurrency() -> None:
    cache = ModelCache()
    built = []
    lock = threading.Lock()

    def build() -> object:
        time.sleep(0.05)  # a slow weight load, so threads overlap
        with lock:
            built.append(1)
        return object()

    with ThreadPoolExecutor(8) as pool:
        objects = list(pool.map(lambda _: cache.get("net", build), range(16)))
    assert len(built) == 1 and len({id(o) for o in objects}) == 1
    assert cache.get("other", object) is not objects[0]
    cache.clear()
    assert cache.get("net", build) is not objects[0] and len(built) == 2
