"""The super-resolution network: a light residual-in-residual dense network (ESRGAN's
RRDB family), and all its facts, for scales 2 and 4.

Gray images run as gray-as-RGB. A conv lifts the low-resolution RGB to
``features`` channels; ``blocks`` residual-in-residual dense blocks follow (each
three dense blocks of five convs, ``growth`` channels added per conv, residuals
scaled by 0.2 as in ESRGAN), then a trunk conv added to the lifted features.
Pixel-shuffle stages (x2 once, x4 twice) upsample, and two full-resolution convs
give the detail added to a bicubic upscale of the input: the network learns only
what bicubic misses, which is what makes a small one converge on a CPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field
from restore.api.network import NetworkConfig, NetworkSpec
from torch import nn

COLOURS = 3
RESIDUAL_SCALE = 0.2  # ESRGAN's scaling of each dense block's residual
DENSE_CONVS = 5  # convs per dense block
DENSE_BLOCKS = 3  # dense blocks per RRDB


class RRDBConfig(NetworkConfig):
    """Build configuration of ``RRDBNet``; the defaults are the shipped models'."""

    features: int = Field(32, ge=1)
    growth: int = Field(16, ge=1)
    blocks: int = Field(2, ge=1)


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class DenseBlock(nn.Module):
    """Five 3 x 3 convs, each seeing the input and all earlier outputs; the last gives
    the residual (scaled by 0.2)."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        widths = [features + k * growth for k in range(DENSE_CONVS)]
        outs = [growth] * (DENSE_CONVS - 1) + [features]
        self.convs = nn.ModuleList(
            nn.Conv2d(width, out, 3, padding=1) for width, out in zip(widths, outs, strict=True)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x plus the scaled residual."""
        seen = [x]
        for conv in self.convs[:-1]:
            seen.append(_lrelu(conv(torch.cat(seen, 1))))
        return x + RESIDUAL_SCALE * self.convs[-1](torch.cat(seen, 1))


class RRDB(nn.Module):
    """Three dense blocks in a row, their sum's residual scaled by 0.2."""

    def __init__(self, features: int, growth: int) -> None:
        super().__init__()
        self.dense = nn.Sequential(*(DenseBlock(features, growth) for _ in range(DENSE_BLOCKS)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x plus the scaled residual of the dense blocks."""
        return x + RESIDUAL_SCALE * (self.dense(x) - x)


class RRDBNet(nn.Module):
    """Lift, RRDB trunk, pixel-shuffle upsampling, detail added to bicubic."""

    def __init__(self, config: RRDBConfig, scale: int) -> None:
        super().__init__()
        width = config.features
        self.scale = scale
        self.first = nn.Conv2d(COLOURS, width, 3, padding=1)
        self.trunk = nn.Sequential(*(RRDB(width, config.growth) for _ in range(config.blocks)))
        self.trunk_conv = nn.Conv2d(width, width, 3, padding=1)
        self.upsample = nn.ModuleList(
            nn.Conv2d(width, 4 * width, 3, padding=1) for _ in range(int(math.log2(scale)))
        )
        self.high = nn.Conv2d(width, width, 3, padding=1)
        self.last = nn.Conv2d(width, COLOURS, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N x 3 x h x w in [0, 1] -> N x 3 x (h * scale) x (w * scale)."""
        lifted = self.first(x)
        features = lifted + self.trunk_conv(self.trunk(lifted))
        for conv in self.upsample:
            features = _lrelu(F.pixel_shuffle(conv(features), 2))
        detail = self.last(_lrelu(self.high(features)))
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return base + detail


def receptive_radius(config: RRDBConfig, scale: int) -> int:
    """Input pixels reached: the convs at input resolution (lift, the trunk's dense
    convs, the trunk conv, the first upsampling conv), then the later convs, each
    reaching 1 px of its own finer grid, rounded up to input pixels."""
    coarse = 1 + config.blocks * DENSE_BLOCKS * DENSE_CONVS + 1 + 1
    steps = int(math.log2(scale))
    fine = sum(1 / 2**k for k in range(1, steps)) + 2 / scale  # later upsampling, high, last
    return coarse + math.ceil(fine)


def _spec(scale: int) -> NetworkSpec[RRDBConfig]:
    return NetworkSpec(
        architecture=f"RRDBLite-x{scale}",
        config=RRDBConfig,
        build=lambda config: RRDBNet(config, scale),
        receptive_radius=lambda config: receptive_radius(config, scale),
        scale=scale,
        precisions=("float32", "bfloat16"),
    )


SPECS = {scale: _spec(scale) for scale in (2, 4)}
