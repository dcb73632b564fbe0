"""User colour hints: validation, painting into the network's hint channels, random sampling.

A hint is a point (x, y as fractions of the width and height, so independent of
resolution) and a colour; the network gets the colour's a*b* over a
``HINT_SIZE`` x ``HINT_SIZE`` square at the working resolution, and a mask that
is 1 there. Training samples hints from the ground truth at random (often none),
so the same weights work with no hints or with many.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Annotated, Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from restore_colorize.lab import rgb_to_lab

HINT_SIZE = 3  # side of the painted square, in working-resolution pixels
NO_HINTS = 0.5  # training: probability that an image gets no hints
MEAN_HINTS = 8.0  # training: mean number of hints when there are some (geometric)
MAX_HINTS = 20  # training: at most this many hints per image
_HEX = re.compile(r"#?([0-9a-fA-F]{6})")


def _parse_colour(value: Any) -> Any:
    """``"#rrggbb"`` to an (r, g, b) tuple of 0-255 ints; anything else is left to pydantic."""
    if isinstance(value, str):
        match = _HEX.fullmatch(value.strip())
        if match is None:
            raise ValueError(f"colour {value!r} is not '#rrggbb' or [r, g, b]")
        digits = match.group(1)
        return tuple(int(digits[i : i + 2], 16) for i in (0, 2, 4))
    return value


Byte = Annotated[int, Field(ge=0, le=255)]
Colour = Annotated[tuple[Byte, Byte, Byte], BeforeValidator(_parse_colour)]


class Hint(BaseModel):
    """One colour hint: where (fractions of width and height) and which sRGB colour."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    x: float = Field(ge=0, le=1, description="Horizontal position: 0 left edge, 1 right edge.")
    y: float = Field(ge=0, le=1, description="Vertical position: 0 top edge, 1 bottom edge.")
    color: Colour = Field(description="sRGB colour: '#rrggbb' or [r, g, b] with 0-255 values.")


def paint(
    centres: torch.Tensor, colours: torch.Tensor, size: int = HINT_SIZE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hint a*b* (N x 2 x H x W) and mask (N x 1 x H x W) from hint centres.

    ``centres`` is 1 at each hint's pixel, ``colours`` holds the hint's a*b*
    there. Each hint covers a ``size`` x ``size`` square around its centre;
    where squares overlap their colours are averaged.
    """
    pad = size // 2
    weight = F.avg_pool2d(centres, size, 1, pad, count_include_pad=True)
    total = F.avg_pool2d(colours * centres, size, 1, pad, count_include_pad=True)
    mask = (weight > 0).to(centres.dtype)
    return total / weight.clamp(min=1e-12) * mask, mask


def hint_maps(
    hints: Sequence[Hint], batch: int, height: int, width: int, device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor] | tuple[None, None]:
    """The hint channels for user hints at a working size (``None, None`` without hints)."""
    if not hints:
        return None, None
    centres = torch.zeros(batch, 1, height, width, device=device)
    colours = torch.zeros(batch, 2, height, width, device=device)
    rgb = torch.tensor([hint.color for hint in hints], dtype=torch.float32, device=device) / 255
    ab = rgb_to_lab(rgb[:, :, None, None])[:, 1:, 0, 0]
    for hint, chroma in zip(hints, ab, strict=True):
        row = min(int(hint.y * height), height - 1)
        column = min(int(hint.x * width), width - 1)
        centres[:, :, row, column] = 1
        colours[:, :, row, column] = chroma
    return paint(centres, colours)


def hint_counts(batch: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random hint counts: 0 with probability ``NO_HINTS``, else geometric, 1..``MAX_HINTS``."""
    uniform = torch.rand(batch, generator=generator).clamp(min=1e-12)
    some = torch.rand(batch, generator=generator) >= NO_HINTS
    geometric = 1 + torch.floor(torch.log(uniform) / math.log(1 - 1 / MEAN_HINTS))
    return torch.where(some, geometric.clamp(max=MAX_HINTS), 0).long()


def sample_hints(
    ab: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random training hints from ground-truth a*b* (N x 2 x H x W): painted a*b* and mask.

    Positions are uniform; each hint's colour is the mean a*b* of the ground
    truth over the square it covers.
    """
    n, _, height, width = ab.shape
    centres = torch.zeros(n, height * width, device=ab.device)
    for image, count in enumerate(hint_counts(n, generator).tolist()):
        if count:
            places = torch.randint(height * width, (count,), generator=generator)
            centres[image, places.to(ab.device)] = 1
    centres = centres.view(n, 1, height, width)
    pad = HINT_SIZE // 2
    mean = F.avg_pool2d(ab, HINT_SIZE, 1, pad, count_include_pad=False)
    return paint(centres, mean)
