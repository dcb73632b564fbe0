"""The inpainting network: a gated-convolution U-Net, and all its facts.

Input: an RGB image (damage included) and the damage mask as a fourth channel;
output: the image with the masked pixels restored and every other pixel kept
exactly. The network sees what the damage left under the mask, so a stain or a
faint crack is cleaned rather than painted over, and an opaque scratch is
filled from around it. Gated convolutions (Yu et al., "Free-form image
inpainting with gated convolution", 2019) learn per pixel how much of each
feature to let through, so features of opaque damage are suppressed. Four
levels (three halvings) with dilated convolutions at the bottom give context
for holes up to about 80 px wide. Input sides must be a multiple of 8.
"""

from __future__ import annotations

import itertools

import torch
from pydantic import Field
from restore.api.network import NetworkConfig, NetworkSpec
from torch import nn

ARCHITECTURE = "GatedUNet"
HALVINGS = 3


class GatedUNetConfig(NetworkConfig):
    """Build configuration of ``GatedUNet``; the defaults are the shipped model's."""

    widths: tuple[int, int, int, int] = (16, 32, 64, 96)  # channels at 1, 1/2, 1/4, 1/8 size
    dilations: tuple[int, ...] = Field((2, 4, 2, 1), min_length=1, max_length=8)


class Gated(nn.Module):
    """A 3x3 gated convolution: ELU(features) * sigmoid(gate)."""

    def __init__(self, inputs: int, outputs: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(inputs, 2 * outputs, 3, stride, padding=dilation, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gate = self.conv(x).chunk(2, dim=1)
        return nn.functional.elu(features) * torch.sigmoid(gate)


def down(inputs: int, outputs: int) -> nn.Sequential:
    """One level down: a stride-2 gated conv and a gated conv."""
    return nn.Sequential(Gated(inputs, outputs, stride=2), Gated(outputs, outputs))


def up(inputs: int, outputs: int) -> nn.Sequential:
    """One level up: nearest upsampling and a gated conv (a skip is added after)."""
    return nn.Sequential(nn.Upsample(scale_factor=2.0), Gated(inputs, outputs))


class GatedUNet(nn.Module):
    """Encoder (two gated convs per level), dilated gated convs at the coarsest
    level, decoder with nearest upsampling, additive skips and a gated conv per level."""

    def __init__(self, config: GatedUNetConfig) -> None:
        super().__init__()
        widths = config.widths
        self.stem = nn.Sequential(Gated(4, widths[0]), Gated(widths[0], widths[0]))
        self.downs = nn.ModuleList(down(a, b) for a, b in itertools.pairwise(widths))
        self.context = nn.Sequential(
            *(Gated(widths[-1], widths[-1], dilation=d) for d in config.dilations)
        )
        self.ups = nn.ModuleList(up(b, a) for a, b in itertools.pairwise(widths))
        self.merges = nn.ModuleList(Gated(w, w) for w in widths[:-1])
        self.head = nn.Conv2d(widths[0], 3, 3, padding=1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """N x 4 x H x W (RGB in [0, 1], damage mask) -> N x 3 x H x W, masked pixels restored."""
        image, mask = inputs[:, :3], (inputs[:, 3:] > 0.5).to(inputs.dtype)
        skips = [self.stem(torch.cat([image, mask], dim=1))]
        for down_level in self.downs:
            skips.append(down_level(skips[-1]))
        features = self.context(skips.pop())
        for level in reversed(range(len(self.ups))):
            features = self.merges[level](self.ups[level](features) + skips[level])
        fill = self.head(features).clamp(0, 1)
        return image * (1 - mask) + fill * mask


def receptive_radius(config: GatedUNetConfig) -> int:
    """A bound on the receptive field, in full-size pixels. A 3x3 conv at level
    ``l`` (pixels ``2**l`` apart) reaches ``2**l`` times its dilation; a stride-2
    conv into level ``l`` is bounded by ``2**l``; a nearest upsampling from level
    ``l + 1`` adds one coarse pixel."""
    levels = len(config.widths) - 1
    encoder = 2 + sum(2 * 2**level for level in range(1, levels + 1))
    context = sum(config.dilations) * 2**levels
    decoder = sum(2 ** (level + 1) + 2 * 2**level for level in range(levels)) + 1  # + head
    return encoder + context + decoder


SPEC = NetworkSpec(
    architecture=ARCHITECTURE,
    config=GatedUNetConfig,
    build=GatedUNet,
    receptive_radius=receptive_radius,
    multiple=2**HALVINGS,
    precisions=("float32", "bfloat16"),
)
