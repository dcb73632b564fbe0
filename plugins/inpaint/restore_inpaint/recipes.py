"""Training recipes of the learned damage detector and inpainter
(``restore train inpaint.unet_mask``, ``restore train inpaint.gated``).

Detector: photos are made print-like and damaged by the ``old-print``
degradation (cracks, folds, tears, crazing, water stains, print scratches and
real film-damage overlays); the target is the synthesis's own damage mask. 40 %
of the samples are hard negatives: print-like with no damage (``print-like``), so
faces, foliage, water and text are not taken for damage (a first run without them
marked 13 % of undamaged photos). The photos include ``color_photos`` (faces from
LFW, people and objects from ImageNet), cut at 1 to 2.5 times the patch size and
shrunk, so faces are as small as on a group photo, and print-like photos carry
lettering (signs, handwritten names) 30 % of the time: a run without them took
bright faces and lettering on real prints for damage. Gray and colour photos are
both used, as luma; the objective is binary cross-entropy plus soft Dice, which
keeps thin cracks (a few % of the pixels) from being outvoted.

Inpainter: the same damage without the print-like toning (``print-damage``), so
the undamaged photo is the target; it gets the damaged image and its damage mask
and learns L1 plus an image-gradient L1 (structure) inside the mask, where it
paints. Patches of 128 px (cut at up to twice that) hold a torn corner or an
80 px hole with context around it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from restore.lab.training import TrainingRecipe
from torch import nn

from restore_inpaint import gated, unet
from restore_inpaint.learned_fill import LearnedFill
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


def fill(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """The image with its holes filled (the network keeps the other pixels)."""
    return model(inputs)


def fill_objective(model: nn.Module, inputs: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """L1 and image-gradient L1 against the undamaged image, inside the hole mask."""
    filled = model(inputs).float()
    mask = (inputs[:, 3:] > 0.5).float()
    area = mask.sum().clamp(min=1) * 3
    pixel = ((filled - clean).abs() * mask).sum() / area
    structure = sum(
        (
            (torch.diff(filled, dim=d) - torch.diff(clean, dim=d)).abs() * mask.narrow(d, 1, n - 1)
        ).sum()
        / area
        for d, n in ((2, filled.shape[2]), (3, filled.shape[3]))
    )
    return pixel + structure


RECIPES = (
    TrainingRecipe(
        name=LearnedMask.name,
        stage=LearnedMask.name,
        network=unet.SPEC,
        config=unet.DamageUNetConfig(),
        degradation="old-print",
        negatives="print-like",
        negative_fraction=0.4,
        channels=1,
        data=("BSD400_gray", "CBSD432_filtered", "SunHays80_color", "color_photos"),
        description="U-Net damage detector on synthesized print damage (mask target)",
        predict=detect,
        objective=damage_objective,
        target="mask",
        patch=128,
        zoom=(1.0, 2.5),
        batch=8,
        steps=9000,
        lr=2e-3,
        bf16=True,
    ),
    TrainingRecipe(
        name=LearnedFill.name,
        stage=LearnedFill.name,
        network=gated.SPEC,
        config=gated.GatedUNetConfig(),
        degradation="print-damage",
        channels=3,
        data=("CBSD432_filtered", "SunHays80_color", "BSD400_gray", "color_photos"),
        description="gated-convolution U-Net inpainter on synthesized print damage",
        predict=fill,
        objective=fill_objective,
        mask_input=True,
        patch=128,
        zoom=(1.0, 2.0),
        batch=8,
        steps=6000,
        lr=1e-3,
        bf16=True,
        select_best=True,
    ),
)
