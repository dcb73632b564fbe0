"""Tests of the restore-deblur plugin."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from pydantic import ValidationError
from restore.api import Stage
from restore.app.registry import Registry
from restore.engine.tiling import TileOptions, run_stage
from skimage import data
from skimage.metrics import peak_signal_noise_ratio

import restore_deblur
from restore_deblur.kernels import MAX_SIZE, Deconvolution, KernelParams, make_kernel
from restore_deblur.richardson_lucy import RichardsonLucy, RichardsonLucyParams
from restore_deblur.wiener import Wiener, WienerParams

CPU = torch.device("cpu")
STAGES = [(Wiener, WienerParams), (RichardsonLucy, RichardsonLucyParams)]
INTERIOR = np.zeros((128, 128), bool)
INTERIOR[16:-16, 16:-16] = True


def batch(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].float()


def unbatch(tensor: torch.Tensor) -> np.ndarray:
    return tensor[0].permute(1, 2, 0).numpy()


def crop(kind: str) -> np.ndarray:
    """A 128 x 128 float32 crop of a scikit-image sample: gray (camera) or RGB (astronaut)."""
    if kind == "gray":
        return (data.camera()[100:228, 200:328, None] / 255).astype(np.float32)
    return (data.astronaut()[30:158, 170:298] / 255).astype(np.float32)


def blurred(image: np.ndarray, params: KernelParams, noise: float = 0.002) -> np.ndarray:
    """``image`` convolved with the kernel ``params`` describe, plus a little noise."""
    kernel = make_kernel(params).astype(np.float32)
    out = cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT).reshape(image.shape)
    out = out + np.random.default_rng(0).normal(0, noise, image.shape)
    return np.clip(out, 0, 1).astype(np.float32)


def run(stage: type[Stage], image: np.ndarray, params: KernelParams) -> np.ndarray:
    return unbatch(stage(CPU).process({"image": batch(image)}, params)["image"])


def psnr(reference: np.ndarray, image: np.ndarray, region: np.ndarray = INTERIOR) -> float:
    return peak_signal_noise_ratio(reference[region], image[region], data_range=1.0)


def test_registers_through_the_plugin_hook() -> None:
    registry = Registry.from_plugins(restore_deblur)
    assert not list(registry.broken())
    assert set(registry.stages) == {"deblur.wiener", "deblur.richardson_lucy", "deblur.unet"}


def test_installed_entry_point_provides_the_stages() -> None:
    registry = Registry.from_entry_points({"RESTORE_PLUGINS": "deblur"})
    assert [(info.name, info.error) for info in registry.plugins if not info.skipped] == [
        ("deblur", None)
    ]
    assert set(registry.stages) == {"deblur.wiener", "deblur.richardson_lucy", "deblur.unet"}


@pytest.mark.parametrize("params", [WienerParams, RichardsonLucyParams])
def test_stages_share_the_kernel_params(params: type[KernelParams]) -> None:
    assert issubclass(params, KernelParams)
    assert set(KernelParams.model_fields) < set(params.model_fields)


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        (WienerParams, {"iterations": 5}),
        (WienerParams, {"kernel": "box"}),
        (WienerParams, {"sigma": 6}),
        (WienerParams, {"length": MAX_SIZE + 1}),
        (WienerParams, {"radius": 16}),
        (WienerParams, {"balance": 0}),
        (RichardsonLucyParams, {"balance": 0.1}),
        (RichardsonLucyParams, {"iterations": 0}),
    ],
)
def test_params_reject_bad_values(params: type[KernelParams], bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        params(**bad)


@pytest.mark.parametrize(
    "params",
    [
        KernelParams(),
        KernelParams(sigma=5),
        KernelParams(kernel="motion", length=MAX_SIZE, angle=33),
        KernelParams(kernel="motion", length=8),
        KernelParams(kernel="disk", radius=MAX_SIZE // 2),
        KernelParams(kernel="disk", radius=0.5),
    ],
    ids=str,
)
def test_kernels_are_normalised_centred_and_bounded(params: KernelParams) -> None:
    kernel = make_kernel(params)
    size = kernel.shape[0]
    assert kernel.shape == (size, size) and size % 2 == 1
    assert size // 2 <= Deconvolution.tiling.halo  # tiles stay exact
    assert kernel.sum() == pytest.approx(1.0) and kernel.min() >= 0
    y, x = np.mgrid[:size, :size]
    assert (kernel * y).sum() == pytest.approx(size // 2)
    assert (kernel * x).sum() == pytest.approx(size // 2)


def test_motion_kernel_follows_the_angle() -> None:
    vertical = make_kernel(KernelParams(kernel="motion", length=9, angle=90))
    centre = vertical.shape[1] // 2
    assert vertical.sum(axis=0)[centre] == pytest.approx(1.0)  # all mass on one column
    assert np.count_nonzero(vertical[:, centre] > 1e-6) in (9, 10, 11)  # about 9 px long


@pytest.mark.parametrize(("stage", "params"), STAGES)
@pytest.mark.parametrize("shape", [(1, 1, 40, 50), (2, 3, 40, 50)])
def test_keeps_shape_and_range(
    stage: type[Stage], params: type[KernelParams], shape: tuple[int, ...]
) -> None:
    image = torch.rand(shape)
    out = stage(CPU).process({"image": image}, params())["image"]
    assert out.shape == shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize(("stage", "params"), STAGES)
@pytest.mark.parametrize("kind", ["gray", "rgb"])
def test_improves_psnr_of_a_gaussian_blur(
    stage: type[Stage], params: type[KernelParams], kind: str
) -> None:
    clean = crop(kind)
    degraded = blurred(clean, KernelParams(sigma=2))
    restored = run(stage, degraded, params(sigma=2))
    gain = psnr(clean, restored) - psnr(clean, degraded)
    assert gain > 1.5, f"PSNR gain {gain:.2f} dB"


@pytest.mark.parametrize(("stage", "params"), STAGES)
def test_no_ringing_at_the_image_edges(stage: type[Stage], params: type[KernelParams]) -> None:
    clean = crop("rgb")
    degraded = blurred(clean, KernelParams(sigma=2))
    restored = run(stage, degraded, params(sigma=2))
    gain = psnr(clean, restored, ~INTERIOR) - psnr(clean, degraded, ~INTERIOR)
    assert gain > 1.5, f"PSNR gain {gain:.2f} dB in the 16 px border"


@pytest.mark.parametrize(("stage", "params"), STAGES)
def test_deblurs_motion(stage: type[Stage], params: type[KernelParams]) -> None:
    clean = crop("gray")
    kernel = KernelParams(kernel="motion", length=9, angle=30)
    degraded = blurred(clean, kernel)
    restored = run(stage, degraded, params(**kernel.model_dump()))
    assert psnr(clean, restored) - psnr(clean, degraded) > 1.5


@pytest.mark.parametrize(("stage", "params"), STAGES)
def test_tiled_run_matches_the_whole_image(stage: type[Stage], params: type[KernelParams]) -> None:
    image = blurred(crop("rgb"), KernelParams(sigma=2))
    instance, chosen = stage(CPU), params(sigma=2)
    whole = run_stage(instance, {"image": image}, chosen, TileOptions(tile=0))["image"]
    tiled = run_stage(instance, {"image": image}, chosen, TileOptions(tile=80))["image"]
    np.testing.assert_allclose(tiled, whole, atol=1e-3)
