"""``denoise.dncnn`` and ``denoise.mwcnn``: learned blind denoisers, gray and colour weights.

Each stage reads its architecture, configuration and descriptor from its
network's module (``dncnn.SPEC``, ``mwcnn.SPEC``). ``weights`` runs a user's own
model made by ``restore train`` instead of the shipped ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import torch
from pydantic import Field
from restore.api import Stage, StageParams, StageUnavailable
from restore.api.network import NetworkSpec
from restore.api.weights import load_network, weights_problems
from torch import nn

from restore_denoise import dncnn, mwcnn

WEIGHTS = resources.files("restore_denoise").joinpath("weights")


class LearnedDenoiseParams(StageParams):
    """Parameters of the learned denoisers."""

    strength: float = Field(
        1.0, ge=0, le=1.5, description="Fraction of the predicted noise removed (1 = all)."
    )
    weights: Path | None = Field(
        None,
        description="A .safetensors file made by `restore train` for this stage, used "
        "instead of the shipped gray and colour weights.",
    )


class LearnedDenoiser(Stage[LearnedDenoiseParams]):
    """Base of the residual denoisers: picks the gray or colour weights by the input."""

    network_spec: ClassVar[NetworkSpec[Any]]
    shipped: ClassVar[Mapping[int, str]]

    @classmethod
    def check(cls, params: LearnedDenoiseParams) -> list[str]:
        """A user's weights file must be made for this stage and architecture."""
        return weights_problems(
            params.weights, stage=cls.name, architectures=(cls.network_spec.architecture,)
        )

    def network(self, channels: int, weights: Path | None = None) -> nn.Module:
        """The network for 1- or 3-channel input, loaded once per process and device."""
        path = weights or WEIGHTS.joinpath(f"{self.shipped[channels]}.safetensors")
        module, config = load_network(
            self.network_spec, path, device=self.device, stage=self.name, max_halo=self.tiling.halo
        )
        made_for = getattr(config, "channels", channels)
        if made_for != channels:
            raise StageUnavailable(
                f"{path}: weights are for {made_for}-channel images, this image has {channels}"
            )
        return module

    def process(
        self, inputs: Mapping[str, torch.Tensor], params: LearnedDenoiseParams
    ) -> dict[str, torch.Tensor]:
        """Remove the noise the network predicts, scaled by ``strength``."""
        noisy = inputs["image"].contiguous(memory_format=torch.channels_last)
        noise = self.network(noisy.shape[1], params.weights)(noisy)
        return {"image": (noisy - params.strength * noise.float()).clamp(0, 1)}


class DnCNNDenoise(LearnedDenoiser):
    """DnCNN-family blind denoiser (noise level 0-55 on 8-bit images)."""

    name = "denoise.dncnn"
    summary = (
        "Learned blind denoiser (DnCNN at half resolution, residual): gray or colour "
        "weights chosen by the input; trained here on sigma 0-55."
    )
    network_spec = dncnn.SPEC
    shipped: ClassVar[Mapping[int, str]] = {1: "dncnn-gray", 3: "dncnn-color"}
    tiling = dncnn.SPEC.tiling(dncnn.DnCNNConfig())


class MWCNNDenoise(LearnedDenoiser):
    """MWCNN blind denoiser: the same contract as ``denoise.dncnn``, another architecture."""

    name = "denoise.mwcnn"
    summary = (
        "Learned blind denoiser (multi-level wavelet CNN, residual): gray or colour "
        "weights chosen by the input; trained here on sigma 0-55."
    )
    network_spec = mwcnn.SPEC
    shipped: ClassVar[Mapping[int, str]] = {1: "mwcnn-gray", 3: "mwcnn-color"}
    tiling = mwcnn.SPEC.tiling(mwcnn.MWCNNConfig())
