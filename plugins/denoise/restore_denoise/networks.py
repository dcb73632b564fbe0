"""Denoising networks: both predict the noise (residual learning), so clean = noisy - output."""

from __future__ import annotations

import torch
from torch import nn


def _conv_relu(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]


class DnCNN(nn.Module):
    """DnCNN run at half resolution (FFDNet's space-to-depth front, no noise map).

    The image is pixel-unshuffled by 2 (4x the channels at a quarter of the
    pixels), passed through ``depth`` 3x3 conv + ReLU layers and shuffled back:
    the same residual design as DnCNN at about a quarter of its cost, with twice
    its receptive field (radius ``2 * depth + 1`` pixels). Input sides must be even.
    """

    def __init__(self, channels: int = 1, width: int = 64, depth: int = 15) -> None:
        super().__init__()
        layers = [nn.PixelUnshuffle(2), *_conv_relu(4 * channels, width)]
        for _ in range(depth - 2):
            layers += _conv_relu(width, width)
        layers += [nn.Conv2d(width, 4 * channels, 3, padding=1), nn.PixelShuffle(2)]
        self.body = nn.Sequential(*layers)

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
        self, channels: int = 1, widths: tuple[int, int, int] = (64, 128, 256), blocks: int = 3
    ) -> None:
        super().__init__()
        w1, w2, w3 = widths

        def stack(cin: int, width: int) -> nn.Sequential:
            layers = _conv_relu(cin, width)
            for _ in range(blocks):
                layers += _conv_relu(width, width)
            return nn.Sequential(*layers)

        self.down1 = stack(4 * channels, w1)
        self.down2 = stack(4 * w1, w2)
        self.bottom = nn.Sequential(stack(4 * w2, w3), nn.Conv2d(w3, 4 * w2, 3, padding=1))
        self.up2 = nn.Sequential(stack(w2, w2), nn.Conv2d(w2, 4 * w1, 3, padding=1))
        self.up1 = nn.Sequential(stack(w1, w1), nn.Conv2d(w1, 4 * channels, 3, padding=1))

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        """The predicted noise."""
        level1 = self.down1(haar_forward(noisy))
        level2 = self.down2(haar_forward(level1))
        level2 = level2 + haar_inverse(self.bottom(haar_forward(level2)))
        level1 = level1 + haar_inverse(self.up2(level2))
        return haar_inverse(self.up1(level1))
