"""The damage detector's U-Net: the network and all its facts.

Luma in, one logit per pixel out (damage where the sigmoid is high). Each level
runs two 3x3 conv + batch-norm + ReLU layers (batch norm speeds up training; at
inference it is a fixed per-channel affine map, so tiles stay exact). Going
down, a stride-2 3x3 conv halves the size; going up, nearest-neighbour
upsampling is followed by a 3x3 conv and the encoder's features of that level
are added (a residual U-Net: sums, not concatenations, to keep it small and
fast on CPU). Input sides must be a multiple of 8 (three halvings).
"""

from __future__ import annotations

import itertools

import torch
from restore.api.network import NetworkConfig, NetworkSpec
from torch import nn

ARCHITECTURE = "DamageUNet"
LEVELS = 4


class DamageUNetConfig(NetworkConfig):
    """Build configuration of ``DamageUNet``; the defaults are the shipped model's."""

    widths: tuple[int, int, int, int] = (16, 32, 64, 96)  # channels at each of the 4 levels


def _block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class DamageUNet(nn.Module):
    """Encoder of ``len(widths)`` levels, decoder back up with additive skips, 1x1 head."""

    def __init__(self, config: DamageUNetConfig) -> None:
        super().__init__()
        widths = config.widths
        self.encoders = nn.ModuleList([_block(1, widths[0])] + [_block(w, w) for w in widths[1:]])
        self.downs = nn.ModuleList(
            nn.Conv2d(a, b, 3, stride=2, padding=1) for a, b in itertools.pairwise(widths)
        )
        self.ups = nn.ModuleList(
            nn.Sequential(nn.Upsample(scale_factor=2.0), nn.Conv2d(b, a, 3, padding=1))
            for a, b in itertools.pairwise(widths)
        )
        self.decoders = nn.ModuleList(_block(w, w) for w in widths[:-1])
        self.head = nn.Conv2d(widths[0], 1, 1)

    def forward(self, luma: torch.Tensor) -> torch.Tensor:
        """Damage logits, N x 1 x H x W, for N x 1 x H x W luma in [0, 1]."""
        skips = []
        features = luma
        for level, encode in enumerate(self.encoders):
            if level:
                features = torch.relu(self.downs[level - 1](features))
            features = encode(features)
            skips.append(features)
        for level in reversed(range(len(self.decoders))):
            features = self.decoders[level](torch.relu(self.ups[level](features)) + skips[level])
        return self.head(features)


def receptive_radius(config: DamageUNetConfig) -> int:
    """A bound on the receptive field: at level ``l`` (pixels 2**l apart) the encoder's
    two convs and the stride-2 conv down reach 3 * 2**l; the decoder's up conv and two
    convs another 3 * 2**l; nearest upsampling one more coarse pixel."""
    encoder = sum(3 * 2**level for level in range(LEVELS))
    decoder = sum(4 * 2**level for level in range(LEVELS - 1))
    return encoder + decoder


SPEC = NetworkSpec(
    architecture=ARCHITECTURE,
    config=DamageUNetConfig,
    build=DamageUNet,
    receptive_radius=receptive_radius,
    multiple=2 ** (LEVELS - 1),
    precisions=("float32", "bfloat16"),
)
