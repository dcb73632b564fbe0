"""The quality-steered JPEG artifact remover (FBCNN-style), and all its facts.

Two parts at half resolution (pixel-unshuffled by 2, so an 8 x 8 JPEG block is
a 4 x 4 block of the working grid), like ``network``'s blind remover:

- the *estimator*: the image's high-pass (the image less its 3 x 3 mean,
  amplified: JPEG's evidence is in block edges and lost fine detail, which a
  small network cannot find under the image's content) through a plain
  conv-ReLU stack to a sigmoid map of the JPEG quality / 100, averaged over
  ``estimator_window`` working pixels around each one (flat places hold no
  evidence of their own). Local, so tiles stay exact and a photo pasted from two
  JPEGs gets two qualities. (A residual estimator on the plain image stayed at the
  training set's median quality for 6000 steps.)
- the *remover*: the working image and a quality map (estimated, or the user's
  ``quality``) through a conv, ``blocks`` residual blocks and a conv to the
  correction, pixel-shuffled back: clean = input + correction.

Trained jointly (Jiang et al. 2021, FBCNN): the remover is given the true quality
of each patch and the estimator learns to predict it, so at run time a user can
override the estimate and trade smoothing (lower quality) for detail (higher).
Input sides must be even.
"""

from __future__ import annotations

import torch
from pydantic import Field
from restore.api.blocks import ResidualBlock
from restore.api.network import NetworkConfig, NetworkSpec
from torch import nn

ARCHITECTURE = "DejpegFlexible-S2"
SCALE_DOWN = 2  # pixel-unshuffle factor: the size multiple
COLOURS = 3  # the network works on RGB
QUALITY_SCALE = 100.0  # the quality map holds quality / QUALITY_SCALE
HIGH_PASS_GAIN = 10.0  # the estimator's input: (image - its 3 x 3 mean) x this


class FlexibleConfig(NetworkConfig):
    """Build configuration of ``FlexibleDejpeg``; the defaults are the shipped model's."""

    width: int = Field(64, ge=1)
    blocks: int = Field(8, ge=0)
    estimator_width: int = Field(48, ge=1)
    estimator_layers: int = Field(7, ge=1)
    estimator_window: int = Field(8, ge=0, description="radius of the estimate's average")


def _half_resolution_resnet(inputs: int, width: int, blocks: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inputs, width, 3, padding=1),
        *(ResidualBlock(width) for _ in range(blocks)),
        nn.Conv2d(width, outputs, 3, padding=1),
    )


def _plain_stack(inputs: int, width: int, layers: int, outputs: int) -> nn.Sequential:
    hidden = [nn.Conv2d(inputs if i == 0 else width, width, 3, padding=1) for i in range(layers)]
    return nn.Sequential(
        *(part for conv in hidden for part in (conv, nn.ReLU())),
        nn.Conv2d(width, outputs, 3, padding=1),
    )


def high_pass(image: torch.Tensor) -> torch.Tensor:
    """The estimator's input: ``image`` less its 3 x 3 mean (the mean of what is inside
    the image at its borders), times ``HIGH_PASS_GAIN``."""
    mean = nn.functional.avg_pool2d(image, 3, stride=1, padding=1, count_include_pad=False)
    return (image - mean) * HIGH_PASS_GAIN


class FlexibleDejpeg(nn.Module):
    """``estimate`` the quality map of an RGB image; ``correct`` it given a quality map."""

    def __init__(self, config: FlexibleConfig) -> None:
        super().__init__()
        folded = SCALE_DOWN**2 * COLOURS
        self.unshuffle = nn.PixelUnshuffle(SCALE_DOWN)
        self.shuffle = nn.PixelShuffle(SCALE_DOWN)
        self.estimator = _plain_stack(folded, config.estimator_width, config.estimator_layers, 1)
        self.window = config.estimator_window
        self.remover = _half_resolution_resnet(folded + 1, config.width, config.blocks, folded)

    def estimate(self, image: torch.Tensor) -> torch.Tensor:
        """N x 3 x H x W in [0, 1] -> the N x 1 x H/2 x W/2 map of quality / 100."""
        local = torch.sigmoid(self.estimator(self.unshuffle(high_pass(image))))
        if not self.window:
            return local
        side = 2 * self.window + 1
        return nn.functional.avg_pool2d(
            local, side, stride=1, padding=self.window, count_include_pad=False
        )

    def correct(self, image: torch.Tensor, quality: torch.Tensor) -> torch.Tensor:
        """The N x 3 x H x W correction (what to add) of ``image`` compressed at
        ``quality`` (an N x 1 x H/2 x W/2 map of quality / 100)."""
        folded = self.unshuffle(image)
        return self.shuffle(self.remover(torch.cat([folded, quality.to(folded.dtype)], dim=1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N x 3 x H x W -> the correction at the estimated quality (blind)."""
        return self.correct(x, self.estimate(x))


def steerable(model: nn.Module) -> FlexibleDejpeg:
    """``model`` as the ``FlexibleDejpeg`` it must be (a TypeError otherwise)."""
    if not isinstance(model, FlexibleDejpeg):
        raise TypeError(f"expected a FlexibleDejpeg, not {type(model).__name__}")
    return model


def quality_map(image: torch.Tensor, quality: float) -> torch.Tensor:
    """The working-resolution map of a user's ``quality`` (1-100) for ``image``."""
    size = (image.shape[0], 1, image.shape[2] // SCALE_DOWN, image.shape[3] // SCALE_DOWN)
    return torch.full(size, quality / QUALITY_SCALE, device=image.device)


def restored_at_given_quality(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Training's restoration of an N x 4 x H x W input (RGB, then the true quality /
    100 as a constant channel): the input plus the correction at that quality."""
    image, given = x[:, :COLOURS], x[:, COLOURS:]
    quality = nn.functional.avg_pool2d(given, SCALE_DOWN)
    return image + steerable(model).correct(image, quality)


def receptive_radius(config: FlexibleConfig) -> int:
    """The estimator's convs and average and the remover's convs in a row at half
    resolution (radius 1 a conv), plus the pixels of the 2 x 2 cell a pixel sits in
    and the high-pass's 3 x 3 mean."""
    estimator = config.estimator_layers + 1 + config.estimator_window
    working = estimator + (2 * config.blocks + 2)
    return SCALE_DOWN * working + (SCALE_DOWN - 1) + 1


SPEC = NetworkSpec(
    architecture=ARCHITECTURE,
    config=FlexibleConfig,
    build=FlexibleDejpeg,
    receptive_radius=receptive_radius,
    multiple=SCALE_DOWN,
    precisions=("float32", "bfloat16"),
)
