"""Multi-level wavelet CNN denoiser (Liu et al. 2018), small: the network and all its facts.

A U-Net whose pooling is the orthonormal Haar transform and whose up-sampling
is its inverse, so nothing is lost between levels. Three levels; it predicts
the noise (clean = noisy - output). Input sides must be multiples of 8.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from restore.api.network import NetworkConfig, NetworkSpec
from torch import nn

from restore_denoise.blocks import residual_stack

ARCHITECTURE = "MWCNN-S"
LEVELS = 3  # Haar transforms down: the size multiple is 2 ** LEVELS


def haar_forward(x: torch.Tensor) -> torch.Tensor:
    """Orthonormal 2-D Haar transform: C x H x W -> 4C x H/2 x W/2 (LL, HL, LH, HH)."""
    a, b = x[..., 0::2, 0::2], x[..., 0::2, 1::2]
    c, d = x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    return torch.cat([a + b + c + d, -a + b - c + d, -a - b + c + d, a - b - c + d], 1) / 2


def haar_inverse(y: torch.Tensor) -> torch.Tensor:
    """The inverse of ``haar_forward``."""
    ll, hl, lh, hh = torch.chunk(y / 2, 4, dim=1)
    n, c, h, w = ll.shape
    x = y.new_empty((n, c, 2 * h, 2 * w))
    x[..., 0::2, 0::2] = ll - hl - lh + hh
    x[..., 0::2, 1::2] = ll + hl - lh - hh
    x[..., 1::2, 0::2] = ll - hl + lh - hh
    x[..., 1::2, 1::2] = ll + hl + lh + hh
    return x


class MWCNNConfig(NetworkConfig):
    """Build configuration of ``MWCNN``: channel widths of the three levels.

    The defaults are the shipped models' (and their training recipes').
    """

    channels: Literal[1, 3] = 1
    widths: tuple[int, int, int] = (64, 64, 128)
    blocks: int = Field(2, ge=0)


class MWCNN(nn.Module):
    """Haar down, residual stacks on three levels, Haar up, with additive skips."""

    def __init__(self, config: MWCNNConfig) -> None:
        super().__init__()
        w1, w2, w3 = config.widths
        c, blocks = config.channels, config.blocks
        self.down1 = residual_stack(4 * c, w1, blocks)
        self.down2 = residual_stack(4 * w1, w2, blocks)
        self.bottom = nn.Sequential(
            residual_stack(4 * w2, w3, blocks), nn.Conv2d(w3, 4 * w2, 3, padding=1)
        )
        self.up2 = nn.Sequential(
            residual_stack(w2, w2, blocks), nn.Conv2d(w2, 4 * w1, 3, padding=1)
        )
        self.up1 = nn.Sequential(residual_stack(w1, w1, blocks), nn.Conv2d(w1, 4 * c, 3, padding=1))

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """The predicted noise."""
        level1 = self.down1(haar_forward(noisy))
        level2 = self.down2(haar_forward(level1))
        level2 = level2 + haar_inverse(self.bottom(haar_forward(level2)))
        level1 = level1 + haar_inverse(self.up2(level2))
        return haar_inverse(self.up1(level1))


def receptive_radius(config: MWCNNConfig) -> int:
    """Convs of radius 1 on each level times the level's stride: the encoder stacks
    (1 + 2 * blocks convs at 1/2 and 1/4), the bottom and both decoder levels
    (2 + 2 * blocks convs at 1/8, 1/4, 1/2), plus the 8 x 8 block a pixel sits in."""
    stack = 1 + 2 * config.blocks
    return stack * (2 + 4) + (stack + 1) * (8 + 4 + 2) + (2**LEVELS - 1)


SPEC = NetworkSpec(
    architecture=ARCHITECTURE,
    config=MWCNNConfig,
    build=MWCNN,
    receptive_radius=receptive_radius,
    multiple=2**LEVELS,
    precisions=("float32", "bfloat16"),
)
