"""Training recipes of the colorizers (``restore train colorize.unet`` / ``colorize.regression``).

Patches of colour photos (``color_photos``, ``CBSD432_filtered``,
``SunHays80_color`` under the data root) are made gray with the ``gray``
degradation; the network sees the gray patch's L* and random hints sampled from
the ground truth, and learns the photo's a*b*:

- ``colorize.unet``: cross-entropy over the in-gamut a*b* bins against
  soft-encoded targets, weighted by class rebalancing (Zhang et al. 2016). The
  bin distribution is counted on the first ``PRIOR_BATCHES`` training batches
  and kept in the model (``prior_counts``), so it is checkpointed and resumed;
- ``colorize.regression``: mean squared error of a*b* (the baseline).

Validation restores the held-out gray images without hints (PSNR is a weak
measure of colorization: see ``benchmarks/colorize.py``).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from restore.lab.training import Objective, TrainingRecipe
from torch import nn

from restore_colorize.bins import (
    bin_count,
    downsample,
    nearest_bin,
    rebalancing_weights,
    soft_encode,
)
from restore_colorize.hints import sample_hints
from restore_colorize.lab import lab_to_rgb_in_gamut, rgb_to_lab
from restore_colorize.network import AB_SCALE, OUTPUT_STRIDE, ColorizeConfig, ColorizeNet
from restore_colorize.unet import LabColorize, RegressionColorize, UNetColorize

DATA = ("color_photos", "CBSD432_filtered", "SunHays80_color")
PRIOR_BATCHES = 200  # batches counted for the empirical a*b* bin distribution


def _network(model: nn.Module) -> ColorizeNet:
    assert isinstance(model, ColorizeNet)
    return model


def predict(model: nn.Module, degraded: torch.Tensor) -> torch.Tensor:
    """Colorize gray RGB patches (no hints): their L* with the predicted a*b*."""
    lightness = rgb_to_lab(degraded)[:, :1]
    return lab_to_rgb_in_gamut(torch.cat([lightness, _network(model).chroma(lightness)], 1))


def _prepare(
    model: nn.Module, degraded: torch.Tensor, clean: torch.Tensor
) -> tuple[ColorizeNet, torch.Tensor, torch.Tensor]:
    """The network, its input (gray L* and hints sampled from the truth) and the true a*b*."""
    network = _network(model)
    lightness = rgb_to_lab(degraded)[:, :1]
    ab = rgb_to_lab(clean)[:, 1:]
    hint_ab, hint_mask = sample_hints(ab)
    return network, network.inputs(lightness, hint_ab, hint_mask), ab


def classification_objective(
    model: nn.Module, degraded: torch.Tensor, clean: torch.Tensor
) -> torch.Tensor:
    """Rebalanced cross-entropy of the bin logits against soft-encoded true a*b*."""
    network, x, ab = _prepare(model, degraded, clean)
    logits = network(x)
    target_ab = downsample(ab, OUTPUT_STRIDE)
    centres = network.centres
    with torch.no_grad():
        nearest = nearest_bin(target_ab, centres)
        if network.training and int(network.prior_batches) < PRIOR_BATCHES:
            network.prior_counts += torch.bincount(nearest.flatten(), minlength=len(centres))
            network.prior_batches += 1
        weights = rebalancing_weights(network.prior_counts, centres)[nearest]
        target = soft_encode(target_ab, centres)
    cross_entropy = -(target * F.log_softmax(logits, dim=1)).sum(1)
    return (cross_entropy * weights).mean()


def regression_objective(
    model: nn.Module, degraded: torch.Tensor, clean: torch.Tensor
) -> torch.Tensor:
    """Mean squared error of the predicted a*b* (scaled to [-1, 1]) at full patch size."""
    network, x, ab = _prepare(model, degraded, clean)
    scaled = F.interpolate(network(x), size=ab.shape[-2:], mode="bilinear", align_corners=False)
    return F.mse_loss(scaled, ab / AB_SCALE)


def _recipe(
    stage: type[LabColorize],
    head: Literal["classify", "regress"],
    description: str,
    objective: Objective,
    steps: int,
) -> TrainingRecipe:
    config = ColorizeConfig(head=head, bins=bin_count() if head == "classify" else None)
    return TrainingRecipe(
        name=stage.name,
        stage=stage.name,
        network=stage.network_spec,
        config=config,
        degradation="gray",
        channels=3,
        data=DATA,
        description=description,
        predict=predict,
        objective=objective,
        patch=128,
        batch=16,
        steps=steps,
        lr=1e-3,
        holdout=3,
        validation_size=128,
    )


RECIPES = (
    _recipe(
        UNetColorize,
        "classify",
        "LAB U-Net colorizer: a*b* bin classification, rebalanced, with colour hints",
        classification_objective,
        steps=600,
    ),
    _recipe(
        RegressionColorize,
        "regress",
        "LAB U-Net colorizer, plain a*b* regression (the baseline)",
        regression_objective,
        steps=600,
    ),
)
