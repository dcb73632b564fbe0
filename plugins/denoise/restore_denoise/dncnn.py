"""DnCNN-family residual denoiser at half resolution: the network and all its facts.

The image is pixel-unshuffled by 2 (4x the channels at a quarter of the
pixels), passed through a conv and ``blocks`` residual blocks and shuffled back:
a quarter of DnCNN's cost per layer, with twice its receptive field. It predicts
the noise (residual learning): clean = noisy - output. Input sides must be even.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from restore.api.network import NetworkConfig, NetworkSpec
from torch import nn

from restore_denoise.blocks import residual_stack

ARCHITECTURE = "DnCNN-RB-S2"
SCALE_DOWN = 2  # pixel-unshuffle factor: the size multiple


class DnCNNConfig(NetworkConfig):
    """Build configuration of ``DnCNN``; the defaults are the shipped models'."""

    channels: Literal[1, 3] = 1
    width: int = Field(64, ge=1)
    blocks: int = Field(7, ge=0)


class DnCNN(nn.Module):
    """Pixel-unshuffle, conv, ``blocks`` residual blocks, conv, pixel-shuffle."""

    def __init__(self, config: DnCNNConfig) -> None:
        super().__init__()
        folded = SCALE_DOWN**2 * config.channels
        self.body = nn.Sequential(
            nn.PixelUnshuffle(SCALE_DOWN),
            residual_stack(folded, config.width, config.blocks),
            nn.Conv2d(config.width, folded, 3, padding=1),
            nn.PixelShuffle(SCALE_DOWN),
        )

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """The predicted noise."""
        return self.body(noisy)


def receptive_radius(config: DnCNNConfig) -> int:
    """2 * blocks + 2 convs of radius 1 at half resolution, plus one pixel of the
    2 x 2 block a pixel sits in."""
    convs = 2 * config.blocks + 2
    return SCALE_DOWN * convs + (SCALE_DOWN - 1)


SPEC = NetworkSpec(
    architecture=ARCHITECTURE,
    config=DnCNNConfig,
    build=DnCNN,
    receptive_radius=receptive_radius,
    multiple=SCALE_DOWN,
    precisions=("float32", "bfloat16"),
)
