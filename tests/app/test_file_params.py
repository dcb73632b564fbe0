"""File parameters (``weights``, ``kernel_file`` ...) in a pipeline or sidecar file are
relative to that file's folder; on the command line (``--set``), to the working folder."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from restore import Pipeline, Stage, StageParams, Tiling, hookimpl
from restore.app.registry import Registry


class OffsetParams(StageParams):
    offset_file: Path | None = None


class FileOffset(Stage):
    """Adds the number written in ``offset_file``."""

    name = "toy.file_offset"
    summary = "adds the number in a file"
    Params = OffsetParams
    tiling = Tiling(halo=0)

    def process(self, inputs: Mapping[str, torch.Tensor], params: OffsetParams) -> dict:
        offset = float(params.offset_file.read_text()) if params.offset_file else 0.0
        return {"image": inputs["image"] + offset}


class FilePlugin:
    __name__ = "file_plugin"

    @hookimpl
    def register_stages(self, register) -> None:
        register(FileOffset)


@pytest.fixture
def registry() -> Registry:
    return Registry.from_plugins(FilePlugin())


def write_pipeline(path: Path, offset_file: str) -> Path:
    node = {"id": "add", "uses": "toy.file_offset", "params": {"offset_file": offset_file}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"nodes": [node]}))
    return path


def test_a_pipeline_files_relative_path_is_relative_to_its_folder(
    registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pipes").mkdir()
    (tmp_path / "pipes" / "offset.txt").write_text("0.25")
    (tmp_path / "offset.txt").write_text("0.5")  # what the working folder would give
    write_pipeline(tmp_path / "pipes" / "p.yaml", "offset.txt")
    monkeypatch.chdir(tmp_path)
    loaded = Pipeline.from_yaml(Path("pipes/p.yaml"), registry=registry)
    assert loaded.plan.nodes[0].params.offset_file == tmp_path / "pipes" / "offset.txt"
    assert loaded.run(np.zeros((2, 2, 1), np.float32)).image.max() == pytest.approx(0.25)
    again = Pipeline(loaded.config.model_dump(), source=loaded.source, registry=registry)
    assert again.plan.nodes[0].params.offset_file == tmp_path / "pipes" / "offset.txt"


def test_set_and_absolute_paths_are_kept_as_given(registry: Registry, tmp_path: Path) -> None:
    absolute = tmp_path / "elsewhere" / "offset.txt"
    pipeline = write_pipeline(tmp_path / "pipes" / "p.yaml", str(absolute))
    kept = Pipeline.from_yaml(pipeline, registry=registry)
    assert kept.plan.nodes[0].params.offset_file == absolute
    command_line = Pipeline.from_yaml(
        pipeline, registry=registry, overrides=["add.offset_file=mine.txt"]
    )
    assert command_line.plan.nodes[0].params.offset_file == Path("mine.txt")


def test_a_sidecars_relative_path_is_relative_to_the_sidecar(
    registry: Registry, tmp_path: Path
) -> None:
    pipeline = Pipeline.from_yaml(write_pipeline(tmp_path / "p.yaml", "a.txt"), registry=registry)
    sidecar = tmp_path / "photos" / "old.restore.yaml"
    plan = pipeline.plan_with({"add": {"offset_file": "kernels/old.txt"}}, source=sidecar)
    assert plan.nodes[0].params.offset_file == tmp_path / "photos" / "kernels" / "old.txt"
    switched = pipeline.plan_with(
        {"add": {"uses": "toy.file_offset", "offset_file": "b.txt"}}, source=sidecar
    )
    assert switched.nodes[0].params.offset_file == tmp_path / "photos" / "b.txt"
