"""Tiny stages with known behaviour, for testing the core without real plugins."""

from __future__ import annotations

import threading
from collections.abc import Mapping

import torch
from pydantic import Field

from restore import Channels, Port, PortKind, Stage, StageParams, TilePolicy, Tiling, hookimpl


class AddParams(StageParams):
    amount: float = Field(0.1, ge=-1, le=1, description="added to every pixel")


class Add(Stage):
    name = "toy.add"
    summary = "adds a constant"
    Params = AddParams
    tiling = Tiling(halo=0)
    calls: list[tuple[int, ...]] = []
    lock = threading.Lock()

    def process(self, inputs: Mapping[str, torch.Tensor], params: AddParams) -> dict:
        with self.lock:
            Add.calls.append(tuple(inputs["image"].shape))
        return {"image": (inputs["image"] + params.amount).clamp(0, 1)}


class Bright(Stage):
    name = "toy.bright"
    summary = "marks bright pixels"
    outputs = {"mask": Port(PortKind.MASK)}
    tiling = Tiling(halo=0)

    def process(self, inputs, params):
        return {"mask": (inputs["image"].mean(dim=1, keepdim=True) > 0.5).float()}


class Fill(Stage):
    name = "toy.fill"
    summary = "sets masked pixels to zero"
    inputs = {"image": Port(), "mask": Port(PortKind.MASK)}
    tiling = Tiling(policy=TilePolicy.WHOLE)

    def process(self, inputs, params):
        return {"image": inputs["image"] * (1 - inputs["mask"])}


class Tint(Stage):
    name = "toy.tint"
    summary = "makes RGB from gray"
    inputs = {"image": Port(channels=Channels.GRAY)}
    outputs = {"image": Port(channels=Channels.RGB)}
    tiling = Tiling(policy=TilePolicy.LOWRES, working_size=32)

    def process(self, inputs, params):
        gray = inputs["image"]
        return {"image": torch.cat([gray, gray * 0.5, gray * 0.25], dim=1)}


class Double(Stage):
    name = "toy.double"
    summary = "nearest-neighbour x2 upscale"
    tiling = Tiling(halo=0, scale=2)

    def process(self, inputs, params):
        return {"image": torch.nn.functional.interpolate(inputs["image"], scale_factor=2.0)}


class Broken(Stage):
    name = "toy.broken"
    summary = "always fails"
    tiling = Tiling(policy=TilePolicy.WHOLE)

    def process(self, inputs, params):
        raise RuntimeError("boom")


STAGES = (Add, Bright, Fill, Tint, Double, Broken)


class ToyPlugin:
    """A plugin object contributing the toy stages."""

    __name__ = "toy"

    @hookimpl
    def register_stages(self, register):
        for stage in STAGES:
            register(stage)
