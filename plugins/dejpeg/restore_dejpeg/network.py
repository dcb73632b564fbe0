"""The JPEG artifact remover: a residual CNN at half resolution, and all its facts.

RGB in (gray images run as gray-as-RGB), a correction out: clean = input +
output. The image is pixel-unshuffled by 2 (12 channels at a quarter of the
pixels), so each 8 x 8 JPEG block is a 4 x 4 block of the working grid; a conv,
``blocks`` residual blocks and a conv follow, then a pixel-shuffle back. At
half resolution each layer costs a quarter and reaches twice as far as at full
size: the default's 18 convolutions see 37 px around a pixel, more than four
blocks either way, which low qualities' ringing and blocking need. Input sides
must be even.
"""

from __future__ import annotations

import torch
from pydantic import Field
from restore.api.blocks import UnshuffledResNet
from restore.api.network import NetworkConfig, NetworkSpec
from torch import nn

ARCHITECTURE = "DejpegResNet-S2"
SCALE_DOWN = 2  # pixel-unshuffle factor: the size multiple
COLOURS = 3  # the network works on RGB


class DejpegConfig(NetworkConfig):
    """Build configuration of ``DejpegResNet``; the defaults are the shipped model's."""

    width: int = Field(64, ge=1)
    blocks: int = Field(8, ge=0)


class DejpegResNet(nn.Module):
    """Pixel-unshuffle, conv, ``blocks`` residual blocks, conv, pixel-shuffle."""

    def __init__(self, config: DejpegConfig) -> None:
        super().__init__()
        self.body = UnshuffledResNet(COLOURS, config.width, config.blocks, SCALE_DOWN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N x 3 x H x W in [0, 1] -> the N x 3 x H x W correction (what to add)."""
        return self.body(x)


def restored(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The input plus the network's correction: strength 1."""
    return x + model(x)


def receptive_radius(config: DejpegConfig) -> int:
    """The reach of ``config.blocks`` residual blocks at half resolution."""
    return UnshuffledResNet.receptive_radius(config.blocks, SCALE_DOWN)


SPEC = NetworkSpec(
    architecture=ARCHITECTURE,
    config=DejpegConfig,
    build=DejpegResNet,
    receptive_radius=receptive_radius,
    multiple=SCALE_DOWN,
    precisions=("float32", "bfloat16"),
)
