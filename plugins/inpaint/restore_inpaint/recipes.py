"""Training recipe of the learned damage detector (``restore train inpaint.unet_mask``).

Photos are made print-like and damaged by the ``old-print`` degradation (cracks,
folds, tears, crazing, water stains, print scratches and real film-damage
overlays); the target is the synthesis's own damage mask. Gray and colour photos
are both used, as luma; the objective is binary cross-entropy plus soft Dice,
which keeps thin cracks (a few % of the pixels) from being outvoted.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from restore.lab.training import TrainingRecipe
from torch import nn

from restore_inpaint import unet
from restore_inpaint.learned_mask import LearnedMask


def detect(model: nn.Module, luma: torch.Tensor) -> torch.Tensor:
    """The damage probability."""
    return torch.sigmoid(model(luma))


def damage_objective(model: nn.Module, luma: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on the logits plus soft Dice over the batch."""
    logits = model(luma).float()
    target = (mask > 0.5).float()
    probability = torch.sigmoid(logits)
    overlap = (probability * target).sum()
    dice = 1 - (2 * overlap + 1) / (probability.sum() + target.sum() + 1)
    return F.binary_cross_entropy_with_logits(logits, target) + dice


RECIPES = (
    TrainingRecipe(
        name=LearnedMask.name,
        stage=LearnedMask.name,
        network=unet.SPEC,
        config=unet.DamageUNetConfig(),
        degradation="old-print",
        channels=1,
        data=("BSD400_gray", "CBSD432_filtered", "SunHays80_color"),
        description="U-Net damage detector on synthesized print damage (mask target)",
        predict=detect,
        objective=damage_objective,
        target="mask",
        patch=96,
        batch=8,
        steps=8000,
        lr=2e-3,
        bf16=True,
    ),
)
