"""Denoising networks: both predict the noise (residual learning), so clean = noisy - output.

Both are built from residual blocks rather than DnCNN's plain conv stack with
batch norm: on two CPU cores a plain 15-layer stack barely moved in 400 steps
(24.3 dB at sigma 25) while residual blocks reached 27.2 dB (see MODEL_CARD).
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


def _stack(cin: int, width: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, width, 3, padding=1), *(ResidualBlock(width) for _ in range(blocks))
    )


class DnCNN(nn.Module):
    """DnCNN-family residual denoiser at half resolution (FFDNet's space-to-depth front).

    The image is pixel-unshuffled by 2 (4x the channels at a quarter of the
    pixels), passed through a conv and ``blocks`` residual blocks and shuffled
    back: a quarter of DnCNN's cost per layer, with twice its receptive field
    (radius ``4 * blocks + 5`` pixels). Input sides must be even.
    """

    def __init__(self, channels: int = 1, width: int = 64, blocks: int = 7) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.PixelUnshuffle(2),
            _stack(4 * channels, width, blocks),
            nn.Conv2d(width, 4 * channels, 3, padding=1),
            nn.PixelShuffle(2),
        )

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """The predicted noise."""
        return self.body(noisy)


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


class MWCNN(nn.Module):
    """Multi-level wavelet CNN (Liu et al. 2018), small: a U-Net whose pooling is the
    Haar transform and whose up-sampling is its inverse, so nothing is lost between
    levels. Three levels of ``widths``; input sides must be multiples of 8.
    """

    def __init__(
        self, channels: int = 1, widths: tuple[int, int, int] = (64, 128, 256), blocks: int = 2
    ) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.down1 = _stack(4 * channels, w1, blocks)
        self.down2 = _stack(4 * w1, w2, blocks)
        self.bottom = nn.Sequential(_stack(4 * w2, w3, blocks), nn.Conv2d(w3, 4 * w2, 3, padding=1))
        self.up2 = nn.Sequential(_stack(w2, w2, blocks), nn.Conv2d(w2, 4 * w1, 3, padding=1))
        self.up1 = nn.Sequential(_stack(w1, w1, blocks), nn.Conv2d(w1, 4 * channels, 3, padding=1))

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """The predicted noise."""
        level1 = self.down1(haar_forward(noisy))
        level2 = self.down2(haar_forward(level1))
        level2 = level2 + haar_inverse(self.bottom(haar_forward(level2)))
        level1 = level1 + haar_inverse(self.up2(level2))
        return haar_inverse(self.up1(level1))
