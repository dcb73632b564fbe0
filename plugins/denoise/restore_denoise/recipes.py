"""Training recipes of the learned denoisers (``restore train denoise.dncnn-gray`` ...).

Blind over noise levels 0-55 (8-bit units), with 8-bit clipped noisy inputs; gray
models train on BSD400, colour models on CBSD432 (both under the data root).
"""

from __future__ import annotations

from restore.lab.training import Loss, TrainingRecipe, log_mse, mse

from restore_denoise.networks import MWCNN, DnCNN


def _recipe(
    stage: str,
    model: str,
    colour: bool,
    steps: int,
    lr: float = 1e-3,
    clip: float | None = None,
    loss: Loss = mse,
    **settings: object,
) -> TrainingRecipe:
    channels = 3 if colour else 1
    network = {"dncnn": (DnCNN, "DnCNN-RB-S2", 2), "mwcnn": (MWCNN, "MWCNN-S", 8)}[model]
    build, architecture, multiple = network
    return TrainingRecipe(
        name=f"{stage}-{'color' if colour else 'gray'}",
        stage=stage,
        architecture=architecture,
        build=lambda config: build(**config),
        config={"channels": channels, **settings},
        degradation="noise-blind",
        channels=channels,
        data=("CBSD432_filtered",) if colour else ("BSD400_gray",),
        description=f"{architecture} blind denoiser for {'colour' if colour else 'gray'} photos",
        patch=64,
        batch=16,
        steps=steps,
        lr=lr,
        clip=clip,
        loss=loss,
        bf16=True,
        extra={"multiple": multiple},
    )


RECIPES = (
    _recipe("denoise.dncnn", "dncnn", colour=False, steps=15000, width=64, blocks=7),
    _recipe("denoise.dncnn", "dncnn", colour=True, steps=20000, width=64, blocks=7),
    # MWCNN diverged at step ~6000 with lr 1e-3 and no clipping (gradient norm ~0.015). Under
    # MSE the gray model stayed 0.2 dB below BM3D at sigma 15 (at finest-level width 32; width 64
    # lost another dB there): the high-noise patches dominate the gradient and the blind model
    # removed only ~60 % of low noise. log_mse (mean PSNR) fixes that; colour clears BM3D on MSE.
    *(
        _recipe(
            "denoise.mwcnn",
            "mwcnn",
            colour=colour,
            steps=20000,
            lr=5e-4,
            clip=0.05,
            loss=mse if colour else log_mse,
            widths=(64, 64, 128),
            blocks=2,
        )
        for colour in (False, True)
    ),
)
