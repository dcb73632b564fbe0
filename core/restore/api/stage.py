"""The stage contract: what a plugin stage declares and implements.

A stage is a class. Its class attributes declare what it consumes and produces,
its parameters (a pydantic model) and how the tiler may cut its work up; its
``process`` method turns a batch of float32 tensors into another.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar, get_args, get_origin

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict

STAGE_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


class PortKind(enum.StrEnum):
    """What flows through a port."""

    IMAGE = "image"  # 1 (gray) or 3 (RGB) channels, float32 in [0, 1]
    MASK = "mask"  # 1 channel, 1.0 where a pixel is selected (e.g. damaged)


class Channels(enum.StrEnum):
    """Which colour layout an image port accepts or produces."""

    ANY = "any"  # gray or RGB, whatever arrives
    GRAY = "gray"  # one channel: RGB input is reduced to its luma
    RGB = "rgb"  # three channels: gray input is repeated


@dataclass(frozen=True)
class Port:
    """One named input or output of a stage."""

    kind: PortKind = PortKind.IMAGE
    channels: Channels = Channels.ANY


class TilePolicy(enum.StrEnum):
    """How the tiler may split a stage's work."""

    TILE = "tile"  # overlapping tiles, each with `halo` pixels of context
    WHOLE = "whole"  # the whole image at once (global methods)
    LOWRES = "lowres"  # a downscaled copy; `Stage.transfer` lifts the result to full size


PRECISIONS = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class Tiling:
    """The descriptor the tiler reads.

    halo: receptive-field radius in input pixels (context a tile needs for exact output).
    scale: output size over input size (1, 2 or 4).
    multiple: the model's input height and width must be a multiple of this.
    working_size: LOWRES only, long side of the working copy (a ``working_size``
        parameter of the stage overrides it).
    precisions: compute precisions the stage supports; the first is the default.
    """

    policy: TilePolicy = TilePolicy.TILE
    halo: int = 16
    scale: int = 1
    multiple: int = 1
    working_size: int = 512
    precisions: tuple[str, ...] = ("float32",)

    def __post_init__(self) -> None:
        if self.scale not in (1, 2, 4):
            raise ValueError(f"scale must be 1, 2 or 4, not {self.scale}")
        if self.halo < 0 or self.multiple < 1 or self.working_size < 16:
            raise ValueError("halo must be >= 0, multiple >= 1, working_size >= 16")
        unknown = set(self.precisions) - set(PRECISIONS)
        if not self.precisions or unknown:
            raise ValueError(f"precisions must be a non-empty subset of {PRECISIONS}")


class StageParams(BaseModel):
    """Base of every stage's parameter model: unknown keys are rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True)


P = TypeVar("P", bound=StageParams)


class Stage(Generic[P]):
    """Base class of every stage, generic over its parameter model.

    ``class Median(Stage[MedianParams])`` makes ``Params`` ``MedianParams`` and
    ``process(inputs, params: MedianParams)`` type-check; a stage without
    parameters subclasses plain ``Stage``. Subclasses set the class attributes
    and implement ``process``. One instance is made per device and shared by all
    threads, so ``process`` must not keep per-call state on ``self``; load
    weights lazily through ``restore.api.models``.
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    inputs: ClassVar[Mapping[str, Port]] = {"image": Port()}
    outputs: ClassVar[Mapping[str, Port]] = {"image": Port()}
    Params: type[P] = StageParams  # type: ignore[assignment]  # set from the type argument
    tiling: ClassVar[Tiling] = Tiling()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Take ``Params`` from the type argument of ``Stage[...]`` (or of a generic
        stage base); a ``Params`` set in the class body must agree with it."""
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            origin = get_origin(base)
            if not (isinstance(origin, type) and issubclass(origin, Stage)):
                continue
            argument = next(iter(get_args(base)), None)
            if not (isinstance(argument, type) and issubclass(argument, StageParams)):
                continue  # a TypeVar: a generic base, made concrete further down
            declared = cls.__dict__.get("Params")
            if declared is not None and declared is not argument:
                raise TypeError(
                    f"{cls.__name__}: Params {declared.__name__} does not match "
                    f"Stage[{argument.__name__}]"
                )
            cls.Params = argument  # type: ignore[assignment]  # P is this very class

    @classmethod
    def check(cls, params: P) -> list[str]:
        """Problems with ``params`` that the parameter model cannot see (a missing
        file, weights made for another stage), reported when a pipeline is validated,
        before any image is read. The default finds none."""
        return []

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def process(self, inputs: Mapping[str, torch.Tensor], params: P) -> dict[str, torch.Tensor]:
        """Map a batch (N, C, H, W float32 tensors on ``self.device``) to outputs."""
        raise NotImplementedError

    def transfer(
        self,
        full: Mapping[str, torch.Tensor],
        low_outputs: Mapping[str, torch.Tensor],
        params: P,
    ) -> dict[str, torch.Tensor]:
        """LOWRES only: lift outputs computed on the working copy to full size.

        The default resizes each output bicubically to the full input size
        (times the scale factor); a colorizer overrides it to keep full-res detail.
        """
        height, width = next(iter(full.values())).shape[-2:]
        size = (height * self.tiling.scale, width * self.tiling.scale)
        return {
            name: F.interpolate(t, size=size, mode="bicubic", align_corners=False).clamp(0, 1)
            for name, t in low_outputs.items()
        }


def check_stage_class(stage: type[Stage[Any]]) -> None:
    """Raise ``TypeError`` naming what is wrong with a stage class's declaration."""
    name = getattr(stage, "name", None)
    if not isinstance(name, str) or not STAGE_NAME.match(name):
        raise TypeError(f"{stage!r}: `name` must look like 'task.method', not {name!r}")
    if not (isinstance(stage, type) and issubclass(stage, Stage)):
        raise TypeError(f"{name}: a stage must subclass restore.Stage")
    if not issubclass(stage.Params, StageParams):
        raise TypeError(f"{name}: `Params` must subclass restore.StageParams")
    if not isinstance(stage.tiling, Tiling):
        raise TypeError(f"{name}: `tiling` must be a restore.Tiling")
    if not stage.outputs:
        raise TypeError(f"{name}: a stage must declare at least one output")
    for ports in (stage.inputs, stage.outputs):
        for port_name, port in ports.items():
            if not isinstance(port, Port):
                raise TypeError(f"{name}: port {port_name!r} must be a restore.Port")
    if stage.process is Stage.process:
        raise TypeError(f"{name}: a stage must implement `process`")


def per_image(fn: Callable[..., np.ndarray], *batches: torch.Tensor) -> torch.Tensor:
    """Apply a numpy function to each image of N x C x H x W batches (classical stages).

    ``fn`` gets the i-th image of each batch as an H x W x C float32 array and
    returns an H x W x C or H x W array; the results are stacked back into an
    N x C x H x W float32 tensor on the first batch's device.
    """
    arrays = [b.detach().to("cpu", torch.float32).permute(0, 2, 3, 1).numpy() for b in batches]
    results = []
    for images in zip(*arrays, strict=True):
        out = np.asarray(fn(*(np.ascontiguousarray(image) for image in images)), np.float32)
        results.append(out[..., None] if out.ndim == 2 else out)
    stacked = torch.from_numpy(np.stack(results)).permute(0, 3, 1, 2).contiguous()
    return stacked.to(batches[0].device)
