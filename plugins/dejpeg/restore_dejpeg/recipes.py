"""Training recipe of ``dejpeg.cnn`` (``restore train dejpeg.cnn``).

Blind JPEG (``restore.lab.degrade``'s ``jpeg-blind-double``): every patch is
compressed once at a quality drawn from 10-90, and a quarter of them a second
time, at another quality drawn from 10-90, on an 8 x 8 grid moved by 1-7 px (a
re-saved, cropped JPEG). Gray photos are gray-as-RGB,
whose chroma compresses to exactly neutral, so they get gray JPEG's luma
artifacts. The network learns the clean patch under ``log_mse`` (mean PSNR), so
the lightly compressed patches count as much as the heavily compressed ones;
96 px patches, so less of the network's 37 px reach falls on padding.
Photos: the gray BSD400 and the colour BSDS and Sun-Hays folders (the colour
photo collections are themselves JPEGs of middling quality: poor targets).
"""

from __future__ import annotations

from restore.lab.training import TrainingRecipe, log_mse

from restore_dejpeg import network
from restore_dejpeg.learned import LearnedDejpeg

RECIPES = (
    TrainingRecipe(
        name=LearnedDejpeg.name,
        stage=LearnedDejpeg.name,
        network=network.SPEC,
        config=network.DejpegConfig(),
        degradation="jpeg-blind-double",
        channels=3,
        data=("BSD400_gray", "CBSD432_filtered", "SunHays80_color"),
        description="residual CNN at half resolution removing JPEG artifacts, quality 10-90",
        predict=network.restored,
        loss=log_mse,
        patch=96,
        batch=8,
        steps=5000,  # 0.43 s a step on 1 bfloat16 thread of the busy 2-core CPU: 36 min
        lr=1e-3,
        bf16=True,
        gpu_scale=8,
    ),
)
