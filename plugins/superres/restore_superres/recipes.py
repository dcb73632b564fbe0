"""Training recipes of the super-resolution stages (``restore train superres.rrdb_x2``,
``superres.rrdb_x4``, ``superres.real_x4``; ``superres.real_x4-gan`` is the
adversarial variant it was measured against).

Fidelity models: each clean patch is downscaled by the stage's scale with
antialiased bicubic (as MATLAB's ``imresize`` and Pillow do: how the field's
benchmarks make their inputs), and the network learns the patch back under L1.
Patches are cut up to 1.5 x larger and area-shrunk first (zoom), so the targets
hold less of the source JPEGs' noise. Photos: the colour BSDS and Sun-Hays
folders and the gray BSD400 (as gray-as-RGB).

``RealWorld`` is the second-order degradation of real small photos that
Real-ESRGAN (Wang et al. 2021) trains on, made of ``restore.lab.degrade`` steps:
blur, resize, noise and JPEG, then a second, milder round of blur, resize and
noise, and finally the resize to the low-resolution size and a JPEG, in random
order. ``superres.real_x4`` fine-tunes the x4 fidelity weights on it under L1.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from restore.lab.adversarial import Adversarial
from restore.lab.degrade import (
    Degraded,
    Downscale,
    GaussianBlur,
    GaussianNoise,
    Jpeg,
    Recipe,
    Resize,
    ResizeMethod,
    resized,
)
from restore.lab.training import TrainingRecipe, l1, predict_direct

from restore_superres import rrdb
from restore_superres.learned import WEIGHTS, SuperResRealX4, SuperResX2, SuperResX4

LOW_PATCH = 32  # low-resolution side of a training patch
RESAMPLING: tuple[ResizeMethod, ...] = ("area", "bilinear", "bicubic")
FIRST_ROUND = Recipe(
    name="real-world-first",
    steps=[
        GaussianBlur(sigma=(0.2, 3.0)),
        Resize(scale=(0.15, 1.5), methods=RESAMPLING),
        GaussianNoise(sigma=(1.0, 30.0)),
        Jpeg(quality=(30, 95)),
    ],
)
SECOND_ROUND = Recipe(
    name="real-world-second",
    steps=[
        GaussianBlur(sigma=(0.2, 1.5)),  # Real-ESRGAN's second blur: 80 % of the images
        Resize(scale=(0.3, 1.2), methods=RESAMPLING),
        GaussianNoise(sigma=(1.0, 25.0)),
    ],
)
SECOND_BLUR = 0.8
FINAL_JPEG = Jpeg(quality=(30, 95))


@dataclass(frozen=True)
class RealWorld:
    """A ``restore.lab.training.Degrades``: Real-ESRGAN's second-order degradation of an
    H x W image to (H / scale) x (W / scale), from ``FIRST_ROUND``, ``SECOND_ROUND`` (its
    blur on ``SECOND_BLUR`` of the images) and a final resize and JPEG in random order."""

    name: str
    scale: int

    def with_data(self, root: str | Path) -> RealWorld:
        """Itself: it reads no data files."""
        return self

    def apply(self, image: np.ndarray, seed: int | np.random.Generator) -> Degraded:
        """The degraded low-resolution image (the mask stays empty)."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        height, width = image.shape[:2]
        first = FIRST_ROUND.apply(image, rng)
        steps = SECOND_ROUND.steps[int(rng.random() >= SECOND_BLUR) :]
        second = Recipe(steps=steps).apply(first.image, rng)
        size = (width // self.scale, height // self.scale)
        method = RESAMPLING[int(rng.integers(len(RESAMPLING)))]
        blank = np.zeros(size[::-1], np.float32)
        if rng.random() < 0.5:
            low = np.clip(resized(second.image, size, method), 0, 1)
            low, _, jpeg = FINAL_JPEG.run(low, blank, rng)
        else:
            compressed, _, jpeg = FINAL_JPEG.run(second.image, second.mask, rng)
            low = np.clip(resized(compressed, size, method), 0, 1)
        final = [{"kind": "resize", "method": method}, {"kind": "jpeg", **jpeg}]
        return Degraded(low, blank, [*first.steps, *second.steps, *final])


def _fidelity(stage: type[SuperResX2 | SuperResX4], scale: int) -> TrainingRecipe:
    return TrainingRecipe(
        name=stage.name,
        stage=stage.name,
        network=rrdb.SPECS[scale],
        config=rrdb.RRDBConfig(),
        degradation=Recipe(
            name=f"bicubic-x{scale}",
            description=f"antialiased bicubic downscale by {scale}",
            steps=[Downscale(factor=scale, method="antialiased")],
        ),
        channels=3,
        data=("CBSD432_filtered", "SunHays80_color", "BSD400_gray"),
        description=f"light RRDB network, x{scale} fidelity super-resolution (L1)",
        predict=predict_direct,
        loss=l1,
        patch=LOW_PATCH * scale,
        batch=16,
        steps=6000,
        lr=5e-4,
        bf16=True,
        zoom=(1.0, 1.5),
        gpu_scale=8,
    )


REAL_WORLD_X4 = RealWorld(name="real-world-x4", scale=4)
REALISTIC = TrainingRecipe(
    name=SuperResRealX4.name,
    stage=SuperResRealX4.name,
    network=rrdb.SPECS[4],
    config=rrdb.RRDBConfig(),
    degradation=REAL_WORLD_X4,
    channels=3,
    data=("CBSD432_filtered", "SunHays80_color", "BSD400_gray"),
    description="the x4 network fine-tuned on real-world degradations",
    predict=predict_direct,
    loss=l1,
    patch=LOW_PATCH * 4,
    batch=16,
    steps=3000,
    lr=1e-4,
    bf16=True,
    zoom=(1.0, 1.5),
    gpu_scale=8,
    start_from=WEIGHTS.joinpath(f"{SuperResX4.shipped}.safetensors"),
)
# The seed design's relativistic GAN term: measured against the L1 recipe on real-world
# degradations (benchmarks/superres.py --gan-weights), it lost 1 dB and kept noise.
REALISTIC_GAN = replace(
    REALISTIC,
    name=f"{SuperResRealX4.name}-gan",
    description="the x4 network fine-tuned on real-world degradations with a relativistic GAN",
    adversarial=Adversarial(weight=0.05),
)

RECIPES = (_fidelity(SuperResX2, 2), _fidelity(SuperResX4, 4), REALISTIC, REALISTIC_GAN)
