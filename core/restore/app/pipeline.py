"""The embedding API: ``Pipeline.from_yaml(path).run(array_or_path)``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from restore.engine.config import apply_overrides, load_yaml, parse_config
from restore.api.errors import PipelineError
from restore.engine.executor import TileProgress, execute, resolve_device
from restore.engine.graph import Plan, bind
from restore.io.images import read_image
from restore.app.registry import Registry
from restore.engine.tiling import CancelToken, TileOptions


@dataclass
class RunResult:
    """Outputs of one image, keyed ``"node.port"``; ``image`` is the main output."""

    outputs: dict[str, np.ndarray]
    main: str
    seconds: dict[str, float] = field(default_factory=dict)
    bypassed: list[str] = field(default_factory=list)

    @property
    def image(self) -> np.ndarray:
        """The main restored image, H x W x C float32 in [0, 1]."""
        return self.outputs[self.main]


def as_float_image(array: np.ndarray) -> np.ndarray:
    """An H x W x C float32 array in [0, 1] from uint8, uint16 or float input."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 3):
        raise ValueError(f"expected an H x W, H x W x 1 or H x W x 3 array, got {array.shape}")
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535
    return np.clip(array, 0, 1, dtype=np.float32)


class Pipeline:
    """A validated pipeline bound to the installed (or given) stages."""

    def __init__(
        self,
        config: Mapping[str, Any],
        *,
        registry: Registry | None = None,
        overrides: Iterable[str] = (),
        source: str | Path | None = None,
    ) -> None:
        self.source = source
        self.registry = registry if registry is not None else Registry.from_entry_points()
        try:
            self.config = parse_config(apply_overrides(dict(config), overrides), source)
            self.plan: Plan = bind(self.config, self.registry)
        except PipelineError as error:
            raise PipelineError(error.problems, source) from None

    @classmethod
    def from_yaml(cls, path: str | Path, **kwargs: Any) -> Pipeline:
        """Load and validate a ``pipeline.yaml``."""
        return cls(load_yaml(path), source=path, **kwargs)

    def plan_with(
        self, overrides: Mapping[str, Mapping[str, Any]], source: str | Path | None = None
    ) -> Plan:
        """The plan with ``{node: {param: value}}`` overrides (one image's sidecar file),
        validated like the pipeline itself; errors name ``source``."""
        if not overrides:
            return self.plan
        try:
            data = apply_overrides(self.config.model_dump(), overrides)
            return bind(parse_config(data), self.registry)
        except PipelineError as error:
            raise PipelineError(error.problems, source) from None

    def tile_options(
        self, *, tile: int = 512, overlap: int = 32, batch_size: int = 4, device: str = "auto"
    ) -> TileOptions:
        """Tiling options for ``run``; ``device`` is auto, cpu or cuda."""
        return TileOptions(
            tile=tile, overlap=overlap, batch_size=batch_size, device=resolve_device(device)
        )

    def run(
        self,
        image: np.ndarray | str | Path,
        *,
        options: TileOptions | None = None,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        progress: TileProgress | None = None,
        cancel: CancelToken | None = None,
    ) -> RunResult:
        """Restore one image (an array or a file path) and return its outputs as arrays.

        ``overrides`` (``{node: {param: value}}``) apply to this image only.
        """
        pixels = (
            read_image(image).pixels if isinstance(image, str | Path) else as_float_image(image)
        )
        execution = execute(
            self.plan_with(overrides or {}),
            self.registry,
            pixels,
            options or self.tile_options(),
            progress=progress,
            cancel=cancel,
        )
        main = self.plan.main_output
        return RunResult(
            outputs={f"{n}.{p}": array for (n, p), array in execution.outputs.items()},
            main=f"{main.node}.{main.port}",
            seconds=execution.seconds,
            bypassed=execution.bypassed,
        )
