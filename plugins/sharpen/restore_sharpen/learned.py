"""``sharpen.cnn``: learned sharpening of mild softness, with a user strength.

The network and its facts are in ``cnn`` (``cnn.SPEC``); ``weights`` runs a
user's own model made by ``restore train sharpen.cnn``. Gray images run as
gray-as-RGB and come back gray.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path

import torch
from pydantic import Field
from restore.api import Stage, StageParams
from restore.api.weights import load_network, weights_problems
from torch import nn

from restore_sharpen import cnn

WEIGHTS = resources.files("restore_sharpen").joinpath("weights")
SHIPPED = "cnn"


class LearnedSharpenParams(StageParams):
    """Parameters of ``sharpen.cnn``."""

    strength: float = Field(
        1.0,
        ge=0,
        le=2,
        description="Scale of the learned correction: 0 is the input exactly, 1 the trained "
        "sharpening, up to 2.",
    )
    weights: Path | None = Field(
        None,
        description="A .safetensors file made by `restore train sharpen.cnn`, used instead of "
        "the shipped weights.",
    )


class LearnedSharpen(Stage[LearnedSharpenParams]):
    """Residual CNN sharpener: input + strength x the network's correction."""

    name = "sharpen.cnn"
    summary = (
        "Learned sharpening (small residual CNN at half resolution): restores edge contrast "
        "lost to mild softness (blur sigma 0.7-1.5 px, then JPEG); strength scales it."
    )
    tiling = cnn.SPEC.tiling(cnn.SharpenCNNConfig())

    @classmethod
    def check(cls, params: LearnedSharpenParams) -> list[str]:
        """A user's weights file must be made for this stage and architecture."""
        return weights_problems(params.weights, stage=cls.name, architectures=(cnn.ARCHITECTURE,))

    def network(self, weights: Path | None) -> nn.Module:
        """The sharpener (``weights``, or the shipped one), loaded once per process and device."""
        path = weights or WEIGHTS.joinpath(f"{SHIPPED}.safetensors")
        module, _ = load_network(
            cnn.SPEC, path, device=self.device, stage=self.name, max_halo=self.tiling.halo
        )
        return module

    def process(
        self, inputs: Mapping[str, torch.Tensor], params: LearnedSharpenParams
    ) -> dict[str, torch.Tensor]:
        """Each image of the batch sharpened by ``strength`` times the correction."""
        image = inputs["image"]
        rgb = image.expand(-1, cnn.COLOURS, -1, -1).contiguous(memory_format=torch.channels_last)
        correction = self.network(params.weights)(rgb).float()
        if image.shape[1] == 1:
            correction = correction.mean(dim=1, keepdim=True)
        return {"image": (image + params.strength * correction).clamp(0, 1)}
