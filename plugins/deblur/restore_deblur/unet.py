"""The deblurring network: a three-level residual U-Net, and all its facts.

RGB in (gray images run as gray-as-RGB), a correction out: restored = base +
output, where the base is the input itself (blind) or, in the kernel-aware
configuration, the first three of six input channels: a Wiener deconvolution
given the true kernel, followed by the blurred image it was made from (the
network removes the deconvolution's ringing and amplified noise). Each level
runs residual blocks of two 3 x 3 convs (no normalisation: tiles stay exact);
a stride-2 conv goes down, a 1 x 1 conv and a pixel shuffle come back up, and
the encoder's features of that level are added. Most blocks sit at quarter
size, where a 3 x 3 conv reaches 4 px: the default receptive radius (60 px)
is more than twice the radius of a 25 px motion blur, and 1.6 times that of
the largest real kernel trained on. Input sides must be a multiple of 4.
"""

from __future__ import annotations

import torch
from restore.api.blocks import ResidualBlock
from restore.api.network import NetworkConfig, NetworkSpec
from torch import nn

ARCHITECTURE = "DeblurUNet"
LEVELS = 3  # full, half and quarter size: the size multiple is 2 ** (LEVELS - 1)
COLOURS = 3  # the network restores RGB


class DeblurUNetConfig(NetworkConfig):
    """Build configuration of ``DeblurUNet``; the defaults are the shipped blind model's."""

    kernel_aware: bool = False
    """Six input channels (a Wiener deconvolution, then the blurred image), not three."""
    widths: tuple[int, int, int] = (32, 64, 112)  # channels at 1, 1/2 and 1/4 size
    blocks: tuple[int, int, int] = (1, 2, 4)
    """Residual blocks per level: in the encoder and again in the decoder on the top two
    levels, once at the bottom."""

    @property
    def inputs(self) -> int:
        """Input channels."""
        return 2 * COLOURS if self.kernel_aware else COLOURS


def _stack(width: int, blocks: int) -> nn.Sequential:
    return nn.Sequential(*(ResidualBlock(width) for _ in range(blocks)))


def _up(inputs: int, outputs: int) -> nn.Sequential:
    """Double the size: a 1 x 1 conv to 4 x ``outputs`` channels and a pixel shuffle."""
    return nn.Sequential(nn.Conv2d(inputs, 4 * outputs, 1), nn.PixelShuffle(2))


class DeblurUNet(nn.Module):
    """Head conv, encoder (two levels down), bottom, decoder with additive skips, tail conv."""

    def __init__(self, config: DeblurUNetConfig) -> None:
        super().__init__()
        (w1, w2, w3), (b1, b2, b3) = config.widths, config.blocks
        self.head = nn.Conv2d(config.inputs, w1, 3, padding=1)
        self.encode1, self.encode2 = _stack(w1, b1), _stack(w2, b2)
        self.down1 = nn.Conv2d(w1, w2, 3, stride=2, padding=1)
        self.down2 = nn.Conv2d(w2, w3, 3, stride=2, padding=1)
        self.bottom = _stack(w3, b3)
        self.up2, self.up1 = _up(w3, w2), _up(w2, w1)
        self.decode2, self.decode1 = _stack(w2, b2), _stack(w1, b1)
        self.tail = nn.Conv2d(w1, COLOURS, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N x 3 (or 6) x H x W in [0, 1] -> the N x 3 x H x W correction of the base."""
        level1 = self.encode1(self.head(x))
        level2 = self.encode2(torch.relu(self.down1(level1)))
        bottom = self.bottom(torch.relu(self.down2(level2)))
        level2 = self.decode2(self.up2(bottom) + level2)
        return self.tail(self.decode1(self.up1(level2) + level1))


def restored(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The base (the first three input channels) plus the network's correction."""
    return x[:, :COLOURS] + model(x)


def receptive_radius(config: DeblurUNetConfig) -> int:
    """A bound, in input pixels: every 3 x 3 conv reaches its level's pixel spacing (1,
    2, 4): head, tail and both level-1 stacks; the stride-2 convs (1, then 2); both
    level-2 stacks and the bottom's. Each pixel shuffle adds up to one coarse pixel of
    its grid's offset (1, then 2)."""
    b1, b2, b3 = config.blocks
    convs = 1 * (2 + 2 * 2 * b1) + 2 * (2 * 2 * b2) + 4 * (2 * b3)
    downs, shuffles = 1 + 2, 1 + 2
    return convs + downs + shuffles


SPEC = NetworkSpec(
    architecture=ARCHITECTURE,
    config=DeblurUNetConfig,
    build=DeblurUNet,
    receptive_radius=receptive_radius,
    multiple=2 ** (LEVELS - 1),
    precisions=("float32", "bfloat16"),
)
