"""Training recipes of the colorizers (``restore train colorize.global`` and the older two).

Patches of colour photos (every colour folder of the data root:
``color_photos``, ``CBSD432_filtered``, ``SunHays80_color``) are made gray; the
network sees the gray patch's L* and random hints sampled from the ground truth,
and learns the photo's a*b*:

- ``colorize.global``: the scene network (:mod:`restore_colorize.global_unet`)
  on old-print versions of the patches (``tone.print_tones``: film luma
  weights, tone curves, fading, sepia and other toning, grain, blur), whose L*
  is tone-normalised as the stage does it; random-size crops (``zoom``), flips,
  no rotations; bf16; the validation split is 5 % of every source folder and
  the best validation state is exported; 3 % of the images (the older recipes'
  held-out split) are reserved for ``benchmarks/colorize.py``;
- ``colorize.unet``: cross-entropy over the in-gamut a*b* bins against
  soft-encoded targets, weighted by class rebalancing (Zhang et al. 2016), on
  plain BT.601 gray patches;
- ``colorize.regression``: mean squared error of a*b* (the baseline).

The classifiers count the bin distribution on their first ``PRIOR_BATCHES``
training batches and keep it in the model (``prior_counts``), so it is
checkpointed and resumed. Validation restores the held-out gray images without
hints (PSNR is a weak measure of colorization: see ``benchmarks/colorize.py``).
"""

from __future__ import annotations

from typing import Any, Literal

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
from restore_colorize.global_unet import GlobalColorizeConfig, GlobalColorizeNet
from restore_colorize.hints import sample_hints
from restore_colorize.lab import lab_to_rgb_in_gamut, rgb_to_lab
from restore_colorize.network import AB_SCALE, OUTPUT_STRIDE, ColorizeConfig, ColorizeNet
from restore_colorize.tone import normalised_lightness, print_tones
from restore_colorize.unet import (
    SPREAD_LIMIT,
    Colorizer,
    GlobalColorize,
    LabColorize,
    RegressionColorize,
    UNetColorize,
)

DATA = ("color_photos", "CBSD432_filtered", "SunHays80_color")
PRIOR_BATCHES = 200  # batches counted for the empirical a*b* bin distribution


def _network(model: nn.Module) -> Colorizer:
    assert isinstance(model, ColorizeNet | GlobalColorizeNet)
    return model


def predict(model: nn.Module, degraded: torch.Tensor) -> torch.Tensor:
    """Colorize gray RGB patches (no hints): their L* with the predicted a*b*."""
    lightness = rgb_to_lab(degraded)[:, :1]
    return lab_to_rgb_in_gamut(torch.cat([lightness, _network(model).chroma(lightness)], 1))


def predict_global(model: nn.Module, degraded: torch.Tensor) -> torch.Tensor:
    """``colorize.global`` on gray RGB patches (no hints), as its stage runs by default."""
    network = _network(model)
    assert isinstance(network, GlobalColorizeNet)
    lightness = rgb_to_lab(degraded)[:, :1]
    chroma = network.chroma(normalised_lightness(lightness), spread_limit=SPREAD_LIMIT)
    return lab_to_rgb_in_gamut(torch.cat([lightness, chroma], 1))


def _prepare(
    model: nn.Module, degraded: torch.Tensor, clean: torch.Tensor
) -> tuple[Colorizer, torch.Tensor, torch.Tensor]:
    """The network, its input (gray L* and hints sampled from the truth) and the true a*b*."""
    network = _network(model)
    lightness = rgb_to_lab(degraded)[:, :1]
    ab = rgb_to_lab(clean)[:, 1:]
    hint_ab, hint_mask = sample_hints(ab)
    return network, network.inputs(lightness, hint_ab, hint_mask), ab


def _print_input(
    model: nn.Module, degraded: torch.Tensor, clean: torch.Tensor
) -> tuple[Colorizer, torch.Tensor, torch.Tensor]:
    """As ``_prepare``, from a random old print of ``clean`` (``degraded`` is not used)
    with its L* tone-normalised; computed in float32 outside any autocast."""
    network = _network(model)
    with torch.autocast(clean.device.type, enabled=False):
        clean = clean.float()
        lightness = normalised_lightness(rgb_to_lab(print_tones(clean))[:, :1])
        ab = rgb_to_lab(clean)[:, 1:]
        hint_ab, hint_mask = sample_hints(ab)
        x = network.inputs(lightness, hint_ab, hint_mask)
    return network, x, ab


def _rebalanced_cross_entropy(
    network: Colorizer, logits: torch.Tensor, ab: torch.Tensor
) -> torch.Tensor:
    """Rebalanced cross-entropy of bin logits against soft-encoded true a*b* (full size)."""
    target_ab = downsample(ab.float(), OUTPUT_STRIDE)
    centres = network.centres
    with torch.no_grad():
        nearest = nearest_bin(target_ab, centres)
        if network.training and int(network.prior_batches) < PRIOR_BATCHES:
            network.prior_counts += torch.bincount(nearest.flatten(), minlength=len(centres))
            network.prior_batches += 1
        weights = rebalancing_weights(network.prior_counts, centres)[nearest]
        target = soft_encode(target_ab, centres)
    cross_entropy = -(target * F.log_softmax(logits.float(), dim=1)).sum(1)
    return (cross_entropy * weights).mean()


def classification_objective(
    model: nn.Module, degraded: torch.Tensor, clean: torch.Tensor
) -> torch.Tensor:
    """Rebalanced cross-entropy of the bin logits on the gray patches (``colorize.unet``)."""
    network, x, ab = _prepare(model, degraded, clean)
    return _rebalanced_cross_entropy(network, network(x), ab)


def print_objective(model: nn.Module, degraded: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Rebalanced cross-entropy on tone-normalised old prints of ``clean`` (``colorize.global``)."""
    network, x, ab = _print_input(model, degraded, clean)
    return _rebalanced_cross_entropy(network, network(x), ab)


def regression_objective(
    model: nn.Module, degraded: torch.Tensor, clean: torch.Tensor
) -> torch.Tensor:
    """Mean squared error of the predicted a*b* (scaled to [-1, 1]) at full patch size."""
    network, x, ab = _prepare(model, degraded, clean)
    scaled = F.interpolate(network(x), size=ab.shape[-2:], mode="bilinear", align_corners=False)
    return F.mse_loss(scaled, ab / AB_SCALE)


def _recipe(
    stage: type[LabColorize[Any]],
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


GLOBAL_STEPS = 18_000  # 0.86 s a step measured on 1 thread of a busy 2-core CPU (4.3 h);
# about 2-2.5 h expected on 2 free cores. On CUDA: 2,250 steps of 128 (gpu_scale 8).


RECIPES = (
    TrainingRecipe(
        name=GlobalColorize.name,
        stage=GlobalColorize.name,
        network=GlobalColorize.network_spec,
        config=GlobalColorizeConfig(bins=bin_count()),
        degradation="gray",  # the validation input; training makes its own prints
        channels=3,
        data=DATA,
        description="Scene colorizer: global-context U-Net on tone-normalised old-print L*, "
        "a*b* bin classification, rebalanced, with colour hints",
        predict=predict_global,
        objective=print_objective,
        patch=128,
        batch=16,
        steps=GLOBAL_STEPS,
        lr=1e-3,
        bf16=True,
        holdout=5,
        split_by_folder=True,
        reserved=3,
        rotate=False,
        zoom=(1.0, 2.0),
        select_best=True,
        gpu_scale=8,
        validation_size=256,
    ),
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
