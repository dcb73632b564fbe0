"""docs/plugins.md documents every hook, hook argument, stage-contract and recipe field."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest

from restore import testing
from restore.api import hookspecs
from restore.api.stage import Channels, Port, PortKind, Stage, TilePolicy, Tiling
from restore.app.registry import ALLOW_ENV, BLOCK_ENV
from restore.lab.training import TrainingRecipe

DOC = (Path(__file__).resolve().parents[1] / "docs" / "plugins.md").read_text()


def hook_names() -> list[str]:
    return [name for name, f in vars(hookspecs).items() if hasattr(f, "restore_spec")]


def documented_names() -> list[str]:
    names = [*hook_names(), ALLOW_ENV, BLOCK_ENV]
    for hook in hook_names():
        names += list(inspect.signature(getattr(hookspecs, hook)).parameters)
    names += [name for name in vars(Stage) if not name.startswith("_")]
    for contract in (Tiling, Port, TrainingRecipe):
        names += [f.name for f in dataclasses.fields(contract)]
    names += [member.value for enum in (PortKind, Channels, TilePolicy) for member in enum]
    names += [n for n, f in vars(testing).items() if hasattr(f, "_fixture_function_marker")]
    return names


def test_there_is_something_to_check() -> None:
    assert "register_stages" in hook_names()
    assert {"halo", "scale", "process", "sample_image"} <= set(documented_names())


@pytest.mark.parametrize("name", documented_names())
def test_documented(name: str) -> None:
    assert f"`{name}" in DOC, f"docs/plugins.md does not mention `{name}`"
