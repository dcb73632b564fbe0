"""Test-only stages for the web service, installed for a test session through a
made-up distribution's entry point (see conftest.py): one that kills its worker
process and one that takes its time over every tile."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

import torch
from pydantic import Field

from restore.api import Stage, StageParams, TilePolicy, Tiling, hookimpl
from restore.api.hookspecs import RegisterStage


class Crash(Stage):
    name = "webtest.crash"
    summary = "ends its process at once"
    tiling = Tiling(policy=TilePolicy.WHOLE)

    def process(self, inputs: Mapping[str, torch.Tensor], params: StageParams) -> dict:
        os._exit(3)


class SlowParams(StageParams):
    seconds: float = Field(0.2, ge=0, le=5, description="sleep per batch of tiles")


class Slow(Stage[SlowParams]):
    name = "webtest.slow"
    summary = "copies its input, slowly"
    tiling = Tiling(halo=0)

    def process(self, inputs: Mapping[str, torch.Tensor], params: SlowParams) -> dict:
        time.sleep(params.seconds)
        return {"image": inputs["image"]}


@hookimpl
def register_stages(register: RegisterStage) -> None:
    register(Crash)
    register(Slow)
