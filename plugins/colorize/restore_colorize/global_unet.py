"""The scene-level colorization network: a conditional U-Net with a global branch.

Same input as :class:`restore_colorize.network.ColorizeNet` (L* / 100 - 0.5,
hint a*b* / 110, hint mask) and the same head: logits over the in-gamut a*b*
bins at 1/4 of the input size. What it adds is image-level context, fused as in
Iizuka et al. (2016): two more strided convolutions below the 1/16 bottleneck,
global average pooling of both levels, a small MLP, and a feature-wise affine
modulation (FiLM, zero-initialised, so training starts from the plain U-Net) of
the bottleneck and of the 1/8 decoder features. Every pixel's colour then
depends on the whole image, so one scene gets one palette; it also means the
network has no finite receptive field, and its stage runs on a whole
working-size copy (``TilePolicy.LOWRES``), never in tiles.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from restore.api.network import NetworkConfig, NetworkSpec
from torch import nn

from restore_colorize.bins import TEMPERATURE, bin_centres, bin_count, confident_readout
from restore_colorize.network import MULTIPLE, ColorizeNet, conv_block

WIDTHS = (32, 64, 96, 160, 224)  # channels at 1, 1/2, 1/4, 1/8 and 1/16 of the input size
GLOBAL = 256  # size of the image-level feature vector


class FiLM(nn.Module):
    """Feature-wise affine modulation ``x (1 + gamma) + beta`` from a global vector."""

    def __init__(self, features: int, channels: int) -> None:
        super().__init__()
        self.linear = nn.Linear(features, 2 * channels)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """``x`` (N x C x H x W) modulated by ``context`` (N x features)."""
        gamma, beta = self.linear(context)[:, :, None, None].chunk(2, dim=1)
        return x * (1 + gamma) + beta


class GlobalColorizeNet(nn.Module):
    """Conditional U-Net with a global branch: (L*, hint a*b*, mask) -> a*b* logits at 1/4."""

    head_kind: Literal["classify"] = "classify"
    centres: torch.Tensor  # buffers: bin centres, training-data bin counts
    prior_counts: torch.Tensor
    prior_batches: torch.Tensor

    def __init__(
        self, widths: Sequence[int] = WIDTHS, features: int = GLOBAL, bins: int | None = None
    ) -> None:
        super().__init__()
        w0, w1, w2, w3, w4 = widths
        count = bin_count()
        if bins is not None and bins != count:
            raise ValueError(f"weights are for {bins} colour bins, this build has {count}")
        self.stem = conv_block(4, w0)
        self.down1 = nn.Sequential(conv_block(w0, w1, stride=2), conv_block(w1, w1))
        self.down2 = nn.Sequential(conv_block(w1, w2, stride=2), conv_block(w2, w2))
        self.down3 = nn.Sequential(conv_block(w2, w3, stride=2), conv_block(w3, w3))
        self.down4 = nn.Sequential(conv_block(w3, w4, stride=2), conv_block(w4, w4, dilation=2))
        self.scene = nn.Sequential(conv_block(w4, w4, stride=2), conv_block(w4, w4, stride=2))
        self.summary = nn.Sequential(
            nn.Linear(2 * w4, features),
            nn.ReLU(inplace=True),
            nn.Linear(features, features),
            nn.ReLU(inplace=True),
        )
        self.film4 = FiLM(features, w4)
        self.film3 = FiLM(features, w3)
        self.up3 = nn.Sequential(conv_block(w4 + w3, w3), conv_block(w3, w3))
        self.up2 = nn.Sequential(conv_block(w3 + w2, w2), conv_block(w2, w2))
        self.head = nn.Conv2d(w2, count, 1)
        self.register_buffer("centres", bin_centres(), persistent=False)
        self.register_buffer("prior_counts", torch.zeros(count))
        self.register_buffer("prior_batches", torch.zeros((), dtype=torch.int64))

    inputs = staticmethod(ColorizeNet.inputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Bin logits (N x Q) at 1/4 of the input size (a multiple of 16)."""
        x = self.stem(x)
        x = self.down1(x)
        skip2 = self.down2(x)
        skip3 = self.down3(skip2)
        x = self.down4(skip3)
        pooled = torch.cat([x.mean((-2, -1)), self.scene(x).mean((-2, -1))], 1)
        context = self.summary(pooled)
        x = self.film4(x, context)
        x = F.interpolate(x, size=skip3.shape[-2:], mode="bilinear", align_corners=False)
        x = self.film3(self.up3(torch.cat([x, skip3], 1)), context)
        x = F.interpolate(x, size=skip2.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(self.up2(torch.cat([x, skip2], 1)))

    def chroma(
        self,
        lightness: torch.Tensor,
        hint_ab: torch.Tensor | None = None,
        hint_mask: torch.Tensor | None = None,
        spread_limit: float = 0.0,
        fallback: Literal["neutral", "scene"] = "neutral",
        temperature: float = TEMPERATURE,
    ) -> torch.Tensor:
        """Predicted a*b* (N x 2 x H x W) for L* of any size: padded, read out, upsampled.

        The readout is the annealed mean at ``temperature``, pulled toward
        ``fallback`` where the predicted distribution is wide
        (``bins.confident_readout``; ``spread_limit`` 0 turns that off).
        """
        x = self.inputs(lightness, hint_ab, hint_mask)
        height, width = x.shape[-2:]
        x = F.pad(x, (0, -width % MULTIPLE, 0, -height % MULTIPLE), mode="replicate")
        ab = confident_readout(self(x).float(), self.centres, spread_limit, fallback, temperature)
        ab = F.interpolate(ab, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return ab[..., :height, :width]


class GlobalColorizeConfig(NetworkConfig):
    """Build configuration of ``GlobalColorizeNet``; the defaults are the recipe's."""

    widths: tuple[int, int, int, int, int] = WIDTHS
    features: int = GLOBAL
    bins: int | None = None


def build(config: GlobalColorizeConfig) -> GlobalColorizeNet:
    """The network a configuration describes."""
    return GlobalColorizeNet(config.widths, config.features, config.bins)


GLOBAL_CLASSIFY = NetworkSpec(
    architecture="colorize-global-unet",
    config=GlobalColorizeConfig,
    build=build,
    receptive_radius=None,  # global pooling: the whole (working) image, never tiles
)
"""The spec of ``colorize.global``: ``chroma`` pads to ``MULTIPLE`` itself."""
