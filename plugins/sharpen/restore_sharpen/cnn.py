"""The sharpening network: a small residual CNN at half resolution, and all its facts.

RGB in (gray images run as gray-as-RGB), a correction out: sharpened = input +
strength x output. The image is pixel-unshuffled by 2 (12 channels at a quarter
of the pixels), passed through a conv, ``blocks`` residual blocks and a conv,
and shuffled back: a quarter of the cost per layer of the same network at full
size, with twice its reach, which mild softness (sigma up to 1.5 px) needs
little of. Input sides must be even.
"""

from __future__ import annotations

import torch
from pydantic import Field
from restore.api.blocks import UnshuffledResNet
from restore.api.network import NetworkConfig, NetworkSpec
from torch import nn

ARCHITECTURE = "SharpenCNN-S2"
SCALE_DOWN = 2  # pixel-unshuffle factor: the size multiple
COLOURS = 3  # the network sharpens RGB


class SharpenCNNConfig(NetworkConfig):
    """Build configuration of ``SharpenCNN``; the defaults are the shipped model's."""

    width: int = Field(32, ge=1)
    blocks: int = Field(4, ge=0)


class SharpenCNN(nn.Module):
    """Pixel-unshuffle, conv, ``blocks`` residual blocks, conv, pixel-shuffle."""

    def __init__(self, config: SharpenCNNConfig) -> None:
        super().__init__()
        self.body = UnshuffledResNet(COLOURS, config.width, config.blocks, SCALE_DOWN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N x 3 x H x W in [0, 1] -> the N x 3 x H x W correction (detail to add)."""
        return self.body(x)


def sharpened(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The input plus the network's correction: strength 1."""
    return x + model(x)


def receptive_radius(config: SharpenCNNConfig) -> int:
    """The reach of ``config.blocks`` residual blocks at half resolution."""
    return UnshuffledResNet.receptive_radius(config.blocks, SCALE_DOWN)


SPEC = NetworkSpec(
    architecture=ARCHITECTURE,
    config=SharpenCNNConfig,
    build=SharpenCNN,
    receptive_radius=receptive_radius,
    multiple=SCALE_DOWN,
    precisions=("float32", "bfloat16"),
)
