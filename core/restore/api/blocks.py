"""Network building blocks that several plugins' networks share.

``ResidualBlock``: two 3 x 3 convs with a ReLU between, added to the input (no
normalisation, so tiles stay exact). Its parameter names (``first``,
``second``) are part of every saved state dict built from it: keep them.
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
