"""Training recipes of ``dejpeg.cnn`` and ``dejpeg.flexible`` (``restore train
dejpeg.cnn``, ``dejpeg.flexible``).

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

``dejpeg.flexible`` trains on the same: its remover is given each patch's
quality (the lower one of a twice-compressed patch: its artifacts dominate), and
its estimator learns that quality under L1, in the same steps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from restore.lab.degrade import Degraded
from restore.lab.training import TrainingRecipe, log_mse
from torch import nn

from restore_dejpeg import flexible, network
from restore_dejpeg.learned import FlexibleDejpeg, LearnedDejpeg


def compressed_quality(degraded: Degraded) -> float:
    """The lowest JPEG quality a patch was compressed at, / 100 (the quality map's unit);
    1 (quality 100) for a patch no JPEG step compressed."""
    qualities = [
        step["quality"]
        for step in degraded.steps
        if step.get("kind") == "jpeg" and step.get("quality") is not None
    ]
    return min(qualities, default=100) / flexible.QUALITY_SCALE


def flexible_objective(model: nn.Module, x: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """``log_mse`` of the restoration at the true quality (``x``'s last channel) plus the
    estimator's L1 error on that quality (each trains its own part)."""
    restored = flexible.restored_at_given_quality(model, x)
    truth = F.avg_pool2d(x[:, flexible.COLOURS :], flexible.SCALE_DOWN)
    estimate = flexible.steerable(model).estimate(x[:, : flexible.COLOURS])
    return log_mse(restored.float(), clean) + F.l1_loss(estimate.float(), truth.float())


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
    TrainingRecipe(
        name=FlexibleDejpeg.name,
        stage=FlexibleDejpeg.name,
        network=flexible.SPEC,
        config=flexible.FlexibleConfig(),
        degradation="jpeg-blind-double",
        channels=3,
        data=("BSD400_gray", "CBSD432_filtered", "SunHays80_color"),
        description="quality-steered residual CNN removing JPEG artifacts, with an estimator",
        predict=flexible.restored_at_given_quality,
        objective=flexible_objective,
        condition=compressed_quality,
        patch=96,
        batch=8,
        steps=12000,  # 0.25 s a step on 1 bfloat16 thread of the busy 2-core CPU: 50 min
        lr=1e-3,
        bf16=True,
        gpu_scale=8,
    ),
)
