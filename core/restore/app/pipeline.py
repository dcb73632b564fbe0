"""The embedding API: ``Pipeline.from_yaml(path).run(array_or_path)``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from restore.api.errors import PipelineError
from restore.app.pool import InstancePool
from restore.app.registry import Registry
from restore.app.runner import RunResult, restore_image
from restore.engine.config import (
    anchored,
    anchored_pipeline,
    apply_overrides,
    load_yaml,
    parse_config,
)
from restore.engine.context import (
    CancelToken,
    RunContext,
    TileOptions,
    TileProgress,
    resolve_device,
)
from restore.engine.graph import Plan, bind
from restore.io.images import DEFAULT_MAX_PIXELS, image_from_array, read_image

__all__ = ["Pipeline", "RunResult"]


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
        self.pool = InstancePool()
        data = dict(config)
        if source is not None:
            data = anchored_pipeline(data, self.registry.stages, Path(source).parent)
        try:
            self.config = parse_config(apply_overrides(data, overrides), source)
            self.plan: Plan = bind(self.config, self.registry.stages)
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
        validated like the pipeline itself; errors name ``source``, and its relative
        file parameters are relative to ``source``'s folder."""
        if not overrides:
            return self.plan
        if source is not None:
            uses = {node.id: node.uses for node in self.config.nodes}
            overrides = anchored(overrides, uses, self.registry.stages, Path(source).parent)
        try:
            data = apply_overrides(self.config.model_dump(), overrides)
            return bind(parse_config(data), self.registry.stages)
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
        image: np.ndarray | torch.Tensor | str | Path,
        *,
        options: TileOptions | None = None,
        overrides: Mapping[str, Mapping[str, Any]] | None = None,
        progress: TileProgress | None = None,
        cancel: CancelToken | None = None,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
    ) -> RunResult:
        """Restore one image (a file path, or an H x W (x C) uint8, uint16 or float
        array or torch tensor; 2 or 4 channels carry alpha) through the same runner
        as the CLI.

        ``overrides`` (``{node: {param: value}}``) apply to this image only; a file
        over ``max_pixels`` (None: no limit) is refused from its header, and so is a
        super-resolution node that would make a larger image, before it runs. The result
        keeps the source's alpha, bit depth, ICC profile, EXIF and resolution:
        ``result.save("out.png")`` writes it with nothing lost.
        """
        if isinstance(image, str | Path):
            source = read_image(image, max_pixels=max_pixels)
        elif isinstance(image, torch.Tensor):  # H x W (x C), on any device, any float type
            source = image_from_array(image.detach().to("cpu", torch.float32).numpy())
        else:
            source = image_from_array(image)
        context = RunContext(options or self.tile_options(), progress, cancel, max_pixels)
        return restore_image(self, source, context, overrides)
