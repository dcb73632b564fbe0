"""What a learned network declares about itself, in one place: ``NetworkSpec``.

The module that holds a network's ``nn.Module`` also holds its spec: the
architecture id written into weight manifests, the typed build configuration,
and the descriptor facts the tiler needs (receptive-field radius as a function
of the configuration, size multiple, scale, precisions). Stages, training
recipes and the weights loader all read these facts from the spec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from torch import nn

from restore.api.stage import TilePolicy, Tiling


class NetworkConfig(BaseModel):
    """Base of a network's build configuration (its constructor arguments)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


C = TypeVar("C", bound=NetworkConfig)


@dataclass(frozen=True)
class NetworkSpec(Generic[C]):
    """One architecture: id, configuration model, constructor and descriptor facts.

    architecture: the id stored in weight manifests and checked when loading.
    config: the pydantic model of the constructor arguments.
    build: makes the (untrained) module from a configuration.
    receptive_radius: the receptive-field radius in input pixels of the network a
        configuration builds (the halo a tile needs for exact output); None for a
        network with global context, which must see the whole (working) image.
    multiple: input height and width must be a multiple of this.
    scale: output size over input size.
    precisions: compute precisions the network runs at; the first is the default.
    """

    architecture: str
    config: type[C]
    build: Callable[[C], nn.Module]
    receptive_radius: Callable[[C], int] | None
    multiple: int = 1
    scale: int = 1
    precisions: tuple[str, ...] = ("float32",)

    def parse(self, raw: Mapping[str, Any]) -> C:
        """A configuration from a manifest's ``config``; ValueError names the problem."""
        try:
            return self.config.model_validate(dict(raw))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(map(str, first["loc"])) or "config"
            raise ValueError(f"config of {self.architecture}: {where}: {first['msg']}") from None

    def halo(self, config: C) -> int:
        """The receptive-field radius of ``config``'s network (0 if it has global context)."""
        return 0 if self.receptive_radius is None else self.receptive_radius(config)

    def tiling(
        self, config: C, policy: TilePolicy = TilePolicy.TILE, working_size: int = 512
    ) -> Tiling:
        """The tiling descriptor of the network ``config`` builds."""
        if self.receptive_radius is None and policy is TilePolicy.TILE:
            raise ValueError(f"{self.architecture} has global context: it cannot run in tiles")
        return Tiling(
            policy=policy,
            halo=self.halo(config),
            scale=self.scale,
            multiple=self.multiple,
            working_size=working_size,
            precisions=self.precisions,
        )
