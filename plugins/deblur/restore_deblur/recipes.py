"""Training recipes of ``deblur.unet``: ``restore train deblur.unet-blind`` and ``-kernel``.

Each clean patch is blurred by a kernel of one of four families, drawn with
equal chances (``FAMILIES``): Gaussian (sigma 1-3 px), defocus (a disk of
radius 2-6 px), linear motion (5-25 px at any angle) or one of the real kernels
of the data root's ``blur_kernels/`` (shifted so their centroid is their
centre pixel, trimmed, randomly rotated and flipped); then mild noise (sigma
0-4 in 8-bit units) and JPEG (quality 75-95), as left by a denoiser or a
camera. The blind network learns the sharp patch from the blurred one; the
kernel-aware network from the stage's Wiener deconvolution with the true kernel
(``learned.BALANCE``) and the blurred patch. Photos: the colour BSDS and
Sun-Hays folders and the gray BSD400 (as gray-as-RGB); 128 px patches, so a
25 px blur has context; the objective is ``log_mse`` (mean PSNR), so mild blurs
are not drowned out by severe ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch
from restore.api.kernels import disk_kernel, gaussian_kernel, motion_kernel
from restore.lab.degrade import Degraded, GaussianNoise, Jpeg, Recipe, load_kernels
from restore.lab.training import TrainingRecipe, log_mse

from restore_deblur import unet
from restore_deblur.deconvolution import wiener
from restore_deblur.learned import BALANCE, LearnedDeblur

DATA = ("CBSD432_filtered", "SunHays80_color", "BSD400_gray")
REAL_KERNELS = "blur_kernels"  # under the data root
AFTER = Recipe(
    name="mild noise and JPEG",
    steps=[GaussianNoise(sigma=(0.0, 4.0)), Jpeg(quality=(75, 95))],
)

Draw = Callable[[np.random.Generator, tuple[np.ndarray, ...]], np.ndarray]


def centred(kernel: np.ndarray) -> np.ndarray:
    """``kernel`` moved so its centroid falls on the centre pixel of an odd square, trimmed
    of all-zero borders: a blur that does not also shift the image."""
    rows, cols = np.nonzero(kernel > 0)
    total = kernel.sum()
    centroid = [
        float((kernel.sum(axis=1 - axis) * np.arange(kernel.shape[axis])).sum() / total)
        for axis in (0, 1)
    ]
    centre = np.round(centroid).astype(int)
    reach = int(max(np.abs(rows - centre[0]).max(), np.abs(cols - centre[1]).max()))
    out = np.zeros((2 * reach + 1, 2 * reach + 1), np.float64)
    out[rows - centre[0] + reach, cols - centre[1] + reach] = kernel[rows, cols]
    return (out / out.sum()).astype(np.float32)


@lru_cache(maxsize=4)
def real_kernels(folder: Path) -> tuple[np.ndarray, ...]:
    """The kernels under ``folder`` (``restore.lab.degrade.load_kernels``), centred."""
    return tuple(centred(kernel) for kernel in load_kernels(folder))


def _real(rng: np.random.Generator, real: tuple[np.ndarray, ...]) -> np.ndarray:
    kernel = np.rot90(real[int(rng.integers(len(real)))], int(rng.integers(4)))
    return np.ascontiguousarray(kernel[:, ::-1] if rng.random() < 0.5 else kernel)


FAMILIES: Mapping[str, Draw] = {
    "gaussian": lambda rng, real: gaussian_kernel(rng.uniform(1.0, 3.0)),
    "defocus": lambda rng, real: disk_kernel(rng.uniform(2.0, 6.0)),
    "motion": lambda rng, real: motion_kernel(rng.uniform(5.0, 25.0), rng.uniform(0.0, 180.0)),
    "real": _real,
}
"""How each blur family draws a kernel (given the centred real kernels)."""


def blur(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """H x W x C ``image`` convolved with ``kernel`` (centre pixel ``(k - 1) // 2``, as the
    Wiener deconvolution assumes), borders reflected."""
    flipped = np.ascontiguousarray(kernel[::-1, ::-1], dtype=np.float32)
    out = cv2.filter2D(image, -1, flipped, borderType=cv2.BORDER_REFLECT_101)
    return out.reshape(image.shape).astype(np.float32)


def deconvolved_input(degraded: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The kernel-aware network's input, as the stage makes it: the Wiener deconvolution
    of the H x W x C ``degraded`` image with ``kernel``, then the image itself (2C channels)."""
    tensor = torch.from_numpy(np.ascontiguousarray(degraded.transpose(2, 0, 1)))[None]
    deconvolved = wiener(tensor, kernel, BALANCE)[0].permute(1, 2, 0).numpy()
    return np.concatenate([deconvolved, degraded], axis=2)


@dataclass(frozen=True)
class BlurFamilies:
    """A ``restore.lab.training.Degrades``: a kernel of one of ``families`` per image (equal
    chances), then ``AFTER``'s noise and JPEG, and with ``kernel_aware`` the stage's Wiener
    deconvolution with the true kernel ahead of the degraded image."""

    name: str
    families: tuple[str, ...] = tuple(FAMILIES)
    kernel_aware: bool = False
    real_kernels: Path = Path(REAL_KERNELS)

    def with_data(self, root: str | Path) -> BlurFamilies:
        """A copy with the real kernels' folder under ``root`` (unless it is absolute)."""
        return dataclasses.replace(self, real_kernels=Path(root).absolute() / self.real_kernels)

    def apply(self, image: np.ndarray, seed: int | np.random.Generator) -> Degraded:
        """Blur ``image`` (H x W x C in [0, 1]), then add noise and JPEG."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        family = self.families[int(rng.integers(len(self.families)))]
        real = real_kernels(self.real_kernels) if family == "real" else ()
        kernel = FAMILIES[family](rng, real)
        degraded = AFTER.apply(blur(np.asarray(image, np.float32), kernel), rng)
        pixels = degraded.image
        if self.kernel_aware:
            pixels = deconvolved_input(pixels, kernel)
        drawn = {"kind": "blur", "family": family, "size": kernel.shape[0]}
        return Degraded(pixels, degraded.mask, [drawn, *degraded.steps])


def _recipe(kernel_aware: bool) -> TrainingRecipe:
    mode = "kernel" if kernel_aware else "blind"
    return TrainingRecipe(
        name=f"{LearnedDeblur.name}-{mode}",
        stage=LearnedDeblur.name,
        network=unet.SPEC,
        config=unet.DeblurUNetConfig(kernel_aware=kernel_aware),
        degradation=BlurFamilies(name=f"deblur-{mode}", kernel_aware=kernel_aware),
        channels=3,
        data=DATA,
        description=(
            "residual U-Net removing Wiener's artifacts given the true kernel"
            if kernel_aware
            else "residual U-Net blind deblurrer (Gaussian, defocus, motion, real kernels)"
        ),
        predict=unet.restored,
        loss=log_mse,
        patch=128,
        batch=8,
        steps=4000,  # 2.3 s a step on 1 float32 thread of the busy 2-core CPU: about 2.6 h
        lr=1e-3,
        bf16=True,
        gpu_scale=8,
    )


RECIPES = (_recipe(kernel_aware=False), _recipe(kernel_aware=True))
