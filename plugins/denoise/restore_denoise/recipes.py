"""Training recipes of the learned denoisers (``restore train denoise.dncnn-gray`` ...).

Blind over noise levels 0-55 (8-bit units), with 8-bit clipped noisy inputs; gray
models train on BSD400, colour models on CBSD432 (both under the data root).
"""

from __future__ import annotations

from typing import Any

from restore.api.network import NetworkSpec
from restore.lab.training import Loss, TrainingRecipe, log_mse, mse

from restore_denoise.learned import DnCNNDenoise, LearnedDenoiser, MWCNNDenoise


def _recipe(
    stage: type[LearnedDenoiser],
    colour: bool,
    steps: int,
    lr: float = 1e-3,
    clip: float | None = None,
    loss: Loss = mse,
) -> TrainingRecipe:
    spec: NetworkSpec[Any] = stage.network_spec
    kind = "colour" if colour else "gray"
    return TrainingRecipe(
        name=f"{stage.name}-{'color' if colour else 'gray'}",
        stage=stage.name,
        network=spec,
        config=spec.config(channels=3 if colour else 1),
        degradation="noise-blind",
        channels=3 if colour else 1,
        data=("CBSD432_filtered",) if colour else ("BSD400_gray",),
        description=f"{spec.architecture} blind denoiser for {kind} photos",
        patch=64,
        batch=16,
        steps=steps,
        lr=lr,
        clip=clip,
        loss=loss,
        bf16=True,
    )


RECIPES = (
    _recipe(DnCNNDenoise, colour=False, steps=15000),
    _recipe(DnCNNDenoise, colour=True, steps=20000),
    # MWCNN diverged at step ~6000 with lr 1e-3 and no clipping (gradient norm ~0.015). Under
    # MSE the gray model stayed 0.2 dB below BM3D at sigma 15 (at finest-level width 32; width 64
    # lost another dB there): the high-noise patches dominate the gradient and the blind model
    # removed only ~60 % of low noise. log_mse (mean PSNR) fixes that; colour clears BM3D on MSE.
    *(
        _recipe(
            MWCNNDenoise,
            colour=colour,
            steps=20000,
            lr=5e-4,
            clip=0.05,
            loss=mse if colour else log_mse,
        )
        for colour in (False, True)
    ),
)
