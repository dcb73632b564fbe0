"""Training recipe of ``sharpen.cnn`` (``restore train sharpen.cnn``).

Mild softness: a Gaussian blur of sigma 0.7-1.5 px (a scan, slight defocus, a
restoration's smoothing), then JPEG at quality 85-95. The network learns the
sharp patch from the soft one under mean squared error, which penalises
haloes and invented texture as much as lost contrast. Photos: the colour BSDS
and Sun-Hays folders and the gray BSD400 (as gray-as-RGB).
"""

from __future__ import annotations

from restore.lab.degrade import GaussianBlur, Jpeg, Recipe
from restore.lab.training import TrainingRecipe

from restore_sharpen import cnn
from restore_sharpen.learned import LearnedSharpen

SOFTNESS = Recipe(
    name="softness",
    description="mild softness: Gaussian blur sigma 0.7-1.5, then JPEG quality 85-95",
    steps=[GaussianBlur(sigma=(0.7, 1.5)), Jpeg(quality=(85, 95))],
)

RECIPES = (
    TrainingRecipe(
        name=LearnedSharpen.name,
        stage=LearnedSharpen.name,
        network=cnn.SPEC,
        config=cnn.SharpenCNNConfig(),
        degradation=SOFTNESS,
        channels=3,
        data=("CBSD432_filtered", "SunHays80_color", "BSD400_gray"),
        description="small residual CNN restoring edge contrast lost to mild softness",
        predict=cnn.sharpened,
        patch=64,
        batch=32,
        steps=20000,  # 0.3 s a step on 1 float32 thread of the busy 2-core CPU: about 1.7 h
        lr=1e-3,
        bf16=True,
        gpu_scale=8,
    ),
)
