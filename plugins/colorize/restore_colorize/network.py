"""The colorization network: a small conditional U-Net from L* and colour hints to a*b*.

Input (4 channels at the working resolution): L* / 100 - 0.5, the hint a*b* / 110
and the hint mask (1 where a hint was painted). The encoder halves the
resolution four times with strided convolutions (plus global context at the
bottom), the decoder climbs back to a quarter of the input resolution with skip
connections, and the head predicts there, as in Zhang et al. (2016):

- ``head="classify"``: logits over the Q in-gamut a*b* bins (``restore_colorize.bins``),
  read out with the annealed mean;
- ``head="regress"``: a*b* directly (tanh, scaled to +-110), the plain-regression baseline.

Either way ``chroma`` upsamples the a*b* bilinearly to the input size. The
classifier also keeps the bin counts of its training data (``prior_counts``),
from which the class-rebalancing weights are derived.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from restore.api.network import NetworkConfig, NetworkSpec
from torch import nn

from restore_colorize.bins import bin_centres, bin_count, readout

AB_SCALE = 110.0  # a*b* / AB_SCALE is the network's hint input and regression output range
WIDTHS = (24, 48, 96, 128, 160)  # channels at 1, 1/2, 1/4, 1/8 and 1/16 of the input size
MULTIPLE = 16  # the input's height and width are padded to a multiple of this
OUTPUT_STRIDE = 4  # the head predicts at 1/4 of the input resolution


def conv_block(
    channels_in: int, channels_out: int, stride: int = 1, dilation: int = 1
) -> nn.Sequential:
    """3 x 3 convolution (no bias), batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(
            channels_in, channels_out, 3, stride, padding=dilation, dilation=dilation, bias=False
        ),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(inplace=True),
    )


class ColorizeNet(nn.Module):
    """Conditional U-Net: (L*, hint a*b*, hint mask) -> a*b* logits or values at 1/4 size."""

    centres: torch.Tensor  # buffers of the classifier: bin centres, training-data bin counts
    prior_counts: torch.Tensor
    prior_batches: torch.Tensor

    def __init__(
        self,
        head: Literal["classify", "regress"] = "classify",
        widths: Sequence[int] = WIDTHS,
        bins: int | None = None,
    ) -> None:
        super().__init__()
        if head not in ("classify", "regress"):
            raise ValueError(f"head must be 'classify' or 'regress', not {head!r}")
        w0, w1, w2, w3, w4 = widths
        self.head_kind = head
        self.stem = conv_block(4, w0)
        self.down1 = nn.Sequential(conv_block(w0, w1, stride=2), conv_block(w1, w1))
        self.down2 = nn.Sequential(conv_block(w1, w2, stride=2), conv_block(w2, w2))
        self.down3 = nn.Sequential(conv_block(w2, w3, stride=2), conv_block(w3, w3))
        self.down4 = nn.Sequential(conv_block(w3, w4, stride=2), conv_block(w4, w4, dilation=2))
        self.context = nn.Sequential(nn.Conv2d(w4, w4, 1), nn.ReLU(inplace=True))
        self.up3 = nn.Sequential(conv_block(w4 + w3, w3), conv_block(w3, w3))
        self.up2 = nn.Sequential(conv_block(w3 + w2, w2), conv_block(w2, w2))
        if head == "classify":
            count = bin_count()
            if bins is not None and bins != count:
                raise ValueError(f"weights are for {bins} colour bins, this build has {count}")
            self.head = nn.Conv2d(w2, count, 1)
            self.register_buffer("centres", bin_centres(), persistent=False)
            self.register_buffer("prior_counts", torch.zeros(count))
            self.register_buffer("prior_batches", torch.zeros((), dtype=torch.int64))
        else:
            self.head = nn.Conv2d(w2, 2, 1)

    @staticmethod
    def inputs(
        lightness: torch.Tensor,
        hint_ab: torch.Tensor | None = None,
        hint_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The network input from L* (N x 1 x H x W) and optional hints (a*b*, mask)."""
        n, _, height, width = lightness.shape
        if hint_ab is None or hint_mask is None:
            hint_ab = lightness.new_zeros(n, 2, height, width)
            hint_mask = lightness.new_zeros(n, 1, height, width)
        return torch.cat([lightness / 100 - 0.5, hint_ab / AB_SCALE, hint_mask], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N x Q) or scaled a*b* (N x 2) at 1/4 of the input size (a multiple of 16)."""
        x = self.stem(x)
        x = self.down1(x)
        skip2 = self.down2(x)
        skip3 = self.down3(skip2)
        x = self.down4(skip3)
        x = x + self.context(x.mean((-2, -1), keepdim=True))
        x = F.interpolate(x, size=skip3.shape[-2:], mode="bilinear", align_corners=False)
        x = self.up3(torch.cat([x, skip3], 1))
        x = F.interpolate(x, size=skip2.shape[-2:], mode="bilinear", align_corners=False)
        x = self.up2(torch.cat([x, skip2], 1))
        out = self.head(x)
        return out if self.head_kind == "classify" else torch.tanh(out)

    def chroma(
        self,
        lightness: torch.Tensor,
        hint_ab: torch.Tensor | None = None,
        hint_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predicted a*b* (N x 2 x H x W) for L* of any size: padded, read out, upsampled."""
        x = self.inputs(lightness, hint_ab, hint_mask)
        height, width = x.shape[-2:]
        x = F.pad(x, (0, -width % MULTIPLE, 0, -height % MULTIPLE), mode="replicate")
        out = self(x)
        ab = readout(out, self.centres) if self.head_kind == "classify" else out * AB_SCALE
        ab = F.interpolate(ab, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return ab[..., :height, :width]


class ColorizeConfig(NetworkConfig):
    """Build configuration of ``ColorizeNet``; the defaults are the shipped models'."""

    head: Literal["classify", "regress"] = "classify"
    widths: tuple[int, int, int, int, int] = WIDTHS
    bins: int | None = None


def build(config: ColorizeConfig) -> ColorizeNet:
    """The network a configuration describes."""
    return ColorizeNet(config.head, config.widths, config.bins)


def _spec(head: str) -> NetworkSpec[ColorizeConfig]:
    """The spec of one head. The network pools over the whole image (global context),
    so it has no finite receptive field: its stages see a whole low-resolution copy.
    ``chroma`` pads its input to ``MULTIPLE`` itself, so callers need no multiple."""
    return NetworkSpec(
        architecture=f"colorize-unet-{head}",
        config=ColorizeConfig,
        build=build,
        receptive_radius=None,
    )


CLASSIFY = _spec("classify")
REGRESS = _spec("regress")
