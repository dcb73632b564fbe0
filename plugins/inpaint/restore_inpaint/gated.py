"""The inpainting network: a gated-convolution U-Net, and all its facts.

Input: an RGB image with the holes blanked and the hole mask as a fourth
channel; output: the image with the holes filled and every other pixel kept
exactly. Gated convolutions (Yu et al., "Free-form image inpainting with gated
convolution", 2019) learn per pixel how much of each feature to let through,
so features computed from blanked pixels are suppressed. Three levels (two
halvings) with dilated convolutions at the bottom give context for holes up to
about 30 px wide. Input sides must be a multiple of 4.
"""

from __future__ import annotations

import torch
from pydantic import Field
from restore.api.network import NetworkConfig, NetworkSpec
from torch import nn

ARCHITECTURE = "GatedUNet"
HALVINGS = 2


class GatedUNetConfig(NetworkConfig):
    """Build configuration of ``GatedUNet``; the defaults are the shipped model's."""

    widths: tuple[int, int, int] = (24, 48, 64)  # channels at full, half and quarter size
    dilations: tuple[int, ...] = Field((2, 4, 8, 1), min_length=1, max_length=8)


class Gated(nn.Module):
    """A 3x3 gated convolution: ELU(features) * sigmoid(gate)."""

    def __init__(self, inputs: int, outputs: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(inputs, 2 * outputs, 3, stride, padding=dilation, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, gate = self.conv(x).chunk(2, dim=1)
        return nn.functional.elu(features) * torch.sigmoid(gate)


class GatedUNet(nn.Module):
    """Encoder (two gated convs per level, stride-2 gated convs down), dilated gated
    convs at quarter size, decoder with nearest upsampling and additive skips."""

    def __init__(self, config: GatedUNetConfig) -> None:
        super().__init__()
        w0, w1, w2 = config.widths
        self.enc0 = nn.Sequential(Gated(4, w0), Gated(w0, w0))
        self.enc1 = nn.Sequential(Gated(w0, w1, stride=2), Gated(w1, w1))
        self.enc2 = nn.Sequential(Gated(w1, w2, stride=2), Gated(w2, w2))
        self.context = nn.Sequential(*(Gated(w2, w2, dilation=d) for d in config.dilations))
        self.up1 = nn.Sequential(nn.Upsample(scale_factor=2.0), Gated(w2, w1))
        self.dec1 = Gated(w1, w1)
        self.up0 = nn.Sequential(nn.Upsample(scale_factor=2.0), Gated(w1, w0))
        self.dec0 = Gated(w0, w0)
        self.head = nn.Conv2d(w0, 3, 3, padding=1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """N x 4 x H x W (RGB in [0, 1], hole mask) -> N x 3 x H x W, holes filled."""
        image, mask = inputs[:, :3], (inputs[:, 3:] > 0.5).to(inputs.dtype)
        known = image * (1 - mask)
        skip0 = self.enc0(torch.cat([known, mask], dim=1))
        skip1 = self.enc1(skip0)
        features = self.context(self.enc2(skip1))
        features = self.dec1(self.up1(features) + skip1)
        features = self.dec0(self.up0(features) + skip0)
        fill = self.head(features).clamp(0, 1)
        return known + fill * mask


def receptive_radius(config: GatedUNetConfig) -> int:
    """A bound on the receptive field, in full-size pixels: each 3x3 conv at level
    ``l`` (pixels 2**l apart) reaches 2**l times its dilation; each nearest
    upsampling one more coarse pixel."""
    encoder = 2 + (1 + 1) * 2 + (1 + 1) * 4
    context = sum(config.dilations) * 4
    decoder = (4 + 1 * 2) + 2 + (2 + 1) + 1 + 1  # up1 and dec1, up0, dec0, head
    return encoder + context + decoder


SPEC = NetworkSpec(
    architecture=ARCHITECTURE,
    config=GatedUNetConfig,
    build=GatedUNet,
    receptive_radius=receptive_radius,
    multiple=2**HALVINGS,
    precisions=("float32", "bfloat16"),
)
