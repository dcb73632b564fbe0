"""The colorization network: a small U-Net from L* lightness to a*b* chroma."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

WIDTH, DEPTH = 32, 3
MULTIPLE = 2**DEPTH  # input height and width must be multiples of this


def _block(channels_in: int, channels_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(channels_out, channels_out, 3, padding=1),
        nn.ReLU(inplace=True),
    )


class ColorizeUNet(nn.Module):
    """Maps L* / 100 (N x 1 x H x W) to a*b* / ``AB_RANGE`` in [-1, 1] (N x 2 x H x W)."""

    def __init__(self) -> None:
        super().__init__()
        widths = [WIDTH * 2**level for level in range(DEPTH + 1)]
        self.down = nn.ModuleList(
            _block(c_in, c_out) for c_in, c_out in zip([1, *widths[:-2]], widths[:-1], strict=True)
        )
        self.bottom = _block(widths[-2], widths[-1])
        self.up = nn.ModuleList(
            _block(widths[level + 1] + widths[level], widths[level])
            for level in reversed(range(DEPTH))
        )
        self.head = nn.Conv2d(WIDTH, 2, 1)

    def forward(self, lightness: torch.Tensor) -> torch.Tensor:
        """Predict the scaled chroma of a batch of scaled lightness maps."""
        skips = []
        x = lightness
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        for block, skip in zip(self.up, reversed(skips), strict=True):
            x = block(torch.cat([F.interpolate(x, scale_factor=2.0), skip], 1))
        return torch.tanh(self.head(x))
