"""Network building blocks that several plugins' networks share.

``ResidualBlock``: two 3 x 3 convs with a ReLU between, added to the input (no
normalisation, so tiles stay exact). Its parameter names (``first``,
``second``) are part of every saved state dict built from it: keep them.
``UnshuffledResNet``: such blocks at a fraction of the resolution, with the same
rule for its parameter names.
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """x + conv(relu(conv(x)))."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.first = nn.Conv2d(width, width, 3, padding=1)
        self.second = nn.Conv2d(width, width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Add the block's correction."""
        return x + self.second(torch.relu(self.first(x)))


class UnshuffledResNet(nn.Sequential):
    """Residual blocks at 1/``factor`` resolution: pixel-unshuffle the C-channel input,
    conv to ``width``, ``blocks`` ``ResidualBlock``\\ s, conv back, pixel-shuffle. Each layer
    costs 1/factor² of the same layer at full size and reaches ``factor`` times as far.
    Its parameters are named ``1`` (first conv), ``2`` ... (blocks) and the last conv."""

    def __init__(self, channels: int, width: int, blocks: int, factor: int = 2) -> None:
        folded = factor**2 * channels
        super().__init__(
            nn.PixelUnshuffle(factor),
            nn.Conv2d(folded, width, 3, padding=1),
            *(ResidualBlock(width) for _ in range(blocks)),
            nn.Conv2d(width, folded, 3, padding=1),
            nn.PixelShuffle(factor),
        )

    @staticmethod
    def receptive_radius(blocks: int, factor: int = 2) -> int:
        """2 * blocks + 2 convs of radius 1 at 1/factor resolution, plus the pixels of
        the factor x factor cell a pixel sits in."""
        return factor * (2 * blocks + 2) + (factor - 1)
