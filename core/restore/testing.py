"""pytest plugin for stage authors (loaded through the ``pytest11`` entry point).

Fixtures: ``restore_registry`` (build a registry of exactly the plugins given),
``sample_image`` / ``sample_gray`` (deterministic synthetic photos) and
``tiling_exactness`` (assert that a stage gives the same result tiled and whole).
``measured_receptive_radius`` finds a network's receptive field by back-propagation,
to check the radius a ``NetworkSpec`` declares.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest
import torch

from restore.api.stage import Stage, StageParams
from restore.app.registry import Registry
from restore.engine.tiling import TileOptions, run_stage


def make_registry(*plugins: ModuleType | object) -> Registry:
    """A registry holding only ``plugins``: nothing installed is loaded."""
    return Registry.from_plugins(*plugins)


def synthetic_photo(height: int = 96, width: int = 128, seed: int = 0) -> np.ndarray:
    """An RGB float32 image with smooth shading, hard edges and fine texture."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    shade = 0.5 + 0.3 * np.sin(x / width * 3.1 + seed) * np.cos(y / height * 2.3)
    image = np.stack([shade, shade * 0.8 + 0.1, 1.0 - shade * 0.7], axis=2)
    for _ in range(6):
        cy, cx = rng.integers(0, height), rng.integers(0, width)
        radius = rng.integers(4, max(5, min(height, width) // 4))
        disk = (y - cy) ** 2 + (x - cx) ** 2 < radius**2
        image[disk] = rng.uniform(0.05, 0.95, size=3)
    image += 0.04 * np.sin(x * 1.7)[..., None] * np.cos(y * 1.3)[..., None]
    return np.clip(image, 0, 1).astype(np.float32)


def assert_tiling_exact(
    stage: type[Stage],
    image: np.ndarray,
    params: StageParams | None = None,
    *,
    tile: int = 64,
    atol: float = 1e-4,
    extra_inputs: dict[str, np.ndarray] | None = None,
) -> None:
    """Fail unless tiled output equals whole-image output within ``atol``."""
    instance = stage(torch.device("cpu"))
    params = params if params is not None else stage.Params()
    inputs = {"image": image, **(extra_inputs or {})}
    whole = run_stage(instance, inputs, params, TileOptions(tile=0))
    overlap = 2 * stage.tiling.halo + 2
    tiled = run_stage(instance, inputs, params, TileOptions(tile=tile, overlap=overlap))
    assert whole.keys() == tiled.keys()
    for name in whole:
        np.testing.assert_allclose(tiled[name], whole[name], atol=atol, err_msg=name)


def measured_receptive_radius(
    network: torch.nn.Module, channels: int, size: int, multiple: int = 1, scale: int = 1
) -> int:
    """The largest distance (Chebyshev, in input pixels) from an output pixel to an input
    pixel that influences it, measured by back-propagating from the output pixels at
    the corners of a ``multiple`` cell near the centre of a ``size`` image of noise
    (the phases that reach furthest on a downsampling network's grid). With ``scale``
    (the output is ``scale`` times the input's size) an output pixel ``Y`` sits on
    input pixel ``Y // scale``, as the tiler counts, and every phase of it is probed."""
    torch.manual_seed(0)
    image = torch.rand(1, channels, size, size, dtype=torch.float64, requires_grad=True)
    network = network.double().eval()
    output = network(image)
    radius = 0
    centre = size // 2 // multiple * multiple
    phases = sorted({0, multiple - 1})
    for dy in phases:
        for dx in phases:
            y, x = centre + dy, centre + dx
            for sy in range(scale):
                for sx in range(scale):
                    pixel = output[0, :, y * scale + sy, x * scale + sx].sum()
                    (grad,) = torch.autograd.grad(pixel, image, retain_graph=True)
                    rows, cols = torch.nonzero(grad[0].abs().sum(0), as_tuple=True)
                    reach = torch.cat([(rows - y).abs(), (cols - x).abs()]).max()
                    radius = max(radius, int(reach))
    if radius >= centre:
        raise ValueError(f"the receptive field reaches the border of a {size} px image")
    return radius


@pytest.fixture
def restore_registry() -> Callable[..., Registry]:
    """Factory: ``restore_registry(plugin_module, ...)`` -> an isolated Registry."""
    return make_registry


@pytest.fixture
def sample_image() -> np.ndarray:
    """A 96 x 128 RGB float32 test photo."""
    return synthetic_photo()


@pytest.fixture
def sample_gray() -> np.ndarray:
    """A 96 x 128 x 1 gray float32 test photo."""
    return synthetic_photo().mean(axis=2, keepdims=True)


@pytest.fixture
def tiling_exactness() -> Callable[..., None]:
    """The ``assert_tiling_exact`` check."""
    return assert_tiling_exact
