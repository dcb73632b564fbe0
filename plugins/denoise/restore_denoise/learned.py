"""``denoise.dncnn`` and ``denoise.mwcnn``: learned blind denoisers, gray and colour weights."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import resources
from typing import ClassVar

import torch
from pydantic import Field
from restore.api import Stage, StageParams, TilePolicy, Tiling
from restore.api.weights import load_model
from torch import nn

from restore_denoise.networks import MWCNN, DnCNN

WEIGHTS = resources.files("restore_denoise").joinpath("weights")


class LearnedDenoiseParams(StageParams):
    """Parameters of the learned denoisers."""

    strength: float = Field(
        1.0, ge=0, le=1.5, description="Fraction of the predicted noise removed (1 = all)."
    )


class LearnedDenoiser(Stage):
    """Base of the residual denoisers: picks the gray or colour weights by the input."""

    architecture: ClassVar[str]
    build: ClassVar[Callable[..., nn.Module]]
    weights: ClassVar[Mapping[int, str]]
    Params = LearnedDenoiseParams

    def network(self, channels: int) -> nn.Module:
        """The network for 1- or 3-channel input, loaded once per process and device."""
        return load_model(
            lambda config: type(self).build(**config),
            WEIGHTS.joinpath(f"{self.weights[channels]}.safetensors"),
            device=self.device,
            expect_stage=self.name,
            expect_architecture=self.architecture,
        )

    def process(
        self, inputs: Mapping[str, torch.Tensor], params: StageParams
    ) -> dict[str, torch.Tensor]:
        """Remove the noise the network predicts, scaled by ``strength``."""
        assert isinstance(params, LearnedDenoiseParams)
        noisy = inputs["image"].contiguous(memory_format=torch.channels_last)
        noise = self.network(noisy.shape[1])(noisy)
        return {"image": (noisy - params.strength * noise.float()).clamp(0, 1)}


class DnCNNDenoise(LearnedDenoiser):
    """DnCNN-family blind denoiser (noise level 0-55 on 8-bit images)."""

    name = "denoise.dncnn"
    summary = (
        "Learned blind denoiser (DnCNN at half resolution, residual): gray or colour "
        "weights chosen by the input; trained here on sigma 0-55."
    )
    architecture = "DnCNN-RB-S2"
    build = DnCNN
    weights: ClassVar[Mapping[int, str]] = {1: "dncnn-gray", 3: "dncnn-color"}
    tiling = Tiling(policy=TilePolicy.TILE, halo=40, multiple=2, precisions=("float32", "bfloat16"))


class MWCNNDenoise(LearnedDenoiser):
    """MWCNN blind denoiser: the same contract as ``denoise.dncnn``, another architecture."""

    name = "denoise.mwcnn"
    summary = (
        "Learned blind denoiser (multi-level wavelet CNN, residual): gray or colour "
        "weights chosen by the input; trained here on sigma 0-55."
    )
    architecture = "MWCNN-S"
    build = MWCNN
    weights: ClassVar[Mapping[int, str]] = {1: "mwcnn-gray", 3: "mwcnn-color"}
    tiling = Tiling(
        policy=TilePolicy.TILE, halo=128, multiple=8, precisions=("float32", "bfloat16")
    )
