"""Stages that run one learned network: the weights rules every such stage shares.

``LearnedStage``: a stage with one ``NetworkSpec`` and shipped weights in its
package (``shipped`` in ``weights_folder``), or a user's own file in its
``weights`` parameter; ``check`` vets that file before any image is read, and
``network`` loads and caches the verified module. ``RGBCorrection``: such a
stage whose network gives an RGB correction to add, scaled by a ``strength``
parameter (gray images run as gray-as-RGB and come back gray).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import torch
from pydantic import Field
from torch import nn

from restore.api.network import NetworkSpec
from restore.api.stage import Stage, StageParams
from restore.api.weights import load_network, weights_problems


class WeightsParams(StageParams):
    """Base of a learned stage's parameters: an optional user weights file (a subclass
    redeclares it with a description naming its training recipe)."""

    weights: Path | None = None


class CorrectionParams(StageParams):
    """Base of an ``RGBCorrection`` stage's parameters, strength first (a subclass
    redeclares both with descriptions)."""

    strength: float = Field(1.0, ge=0, le=2)
    weights: Path | None = None


W = TypeVar("W", bound=WeightsParams | CorrectionParams)
C = TypeVar("C", bound=CorrectionParams)


class LearnedStage(Stage[W]):
    """A stage whose work is one network of ``network_spec``'s architecture."""

    network_spec: ClassVar[NetworkSpec[Any]]
    weights_folder: ClassVar[Traversable]
    shipped: ClassVar[str]  # the shipped weights' stem in ``weights_folder``

    @classmethod
    def check(cls, params: W) -> list[str]:
        """A user's weights file must be made for this stage and architecture."""
        return weights_problems(
            params.weights, stage=cls.name, architectures=(cls.network_spec.architecture,)
        )

    def network(self, weights: Path | None) -> nn.Module:
        """The network (``weights``, or the shipped one), loaded once per process and device."""
        path = weights or self.weights_folder.joinpath(f"{self.shipped}.safetensors")
        module, _ = load_network(
            self.network_spec, path, device=self.device, stage=self.name, max_halo=self.tiling.halo
        )
        return module


class RGBCorrection(LearnedStage[C]):
    """The input plus ``strength`` times the network's RGB correction of it."""

    def process(self, inputs: Mapping[str, torch.Tensor], params: C) -> dict[str, torch.Tensor]:
        """Each image of the batch corrected; strength 0 is the input exactly."""
        image = inputs["image"]
        rgb = image.expand(-1, 3, -1, -1).contiguous(memory_format=torch.channels_last)
        correction = self.correction(rgb, params).float()
        if image.shape[1] == 1:
            correction = correction.mean(dim=1, keepdim=True)
        return {"image": (image + params.strength * correction).clamp(0, 1)}

    def correction(self, rgb: torch.Tensor, params: C) -> torch.Tensor:
        """The network's correction of an N x 3 x H x W batch (a subclass may steer it)."""
        return self.network(params.weights)(rgb)
