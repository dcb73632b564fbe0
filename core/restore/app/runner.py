"""The one runner: every front-end (Python API, CLI, web, cluster) restores images here.

``restore_image`` runs a pipeline on one decoded image and returns a
``RunResult`` that carries the source's metadata, so ``RunResult.save`` writes
with nothing lost. ``BatchRunner`` runs it over files and folders: discovery,
sidecars, output naming, writing, per-file outcomes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from restore.api.errors import Cancelled, RestoreError
from restore.api.stage import PortKind
from restore.engine.config import load_yaml
from restore.engine.context import CancelToken, RunContext, TileOptions
from restore.engine.executor import execute
from restore.engine.graph import Plan
from restore.io.files import discover, output_path, sidecar_path
from restore.io.images import LoadedImage, read_image, write_output

if TYPE_CHECKING:
    from restore.app.pipeline import Pipeline

Status = Literal["done", "skipped", "failed"]


@dataclass
class RunResult:
    """Outputs of one image, keyed ``"node.port"``; ``image`` is the main output.

    ``source`` is the decoded input with its metadata (alpha, bit depth, ICC
    profile, EXIF), so ``save`` writes an output with nothing lost.
    """

    outputs: dict[str, np.ndarray]
    main: str
    source: LoadedImage
    kinds: dict[str, PortKind] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    bypassed: list[str] = field(default_factory=list)

    @property
    def image(self) -> np.ndarray:
        """The main restored image, H x W x C float32 in [0, 1]."""
        return self.outputs[self.main]

    def save(self, path: str | Path, output: str | None = None, **kwargs: Any) -> Path:
        """Write ``output`` (default: the main image) to ``path`` through the same
        writer the CLI uses; keyword arguments (``protect``) go to ``write_output``."""
        key = output or self.main
        mask = self.kinds.get(key) is PortKind.MASK
        return write_output(path, self.outputs[key], self.source, mask=mask, **kwargs)


def restore_image(
    pipeline: Pipeline,
    source: LoadedImage,
    context: RunContext,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    sidecar: Path | None = None,
) -> RunResult:
    """Run ``pipeline`` on one decoded image; ``overrides`` (``{node: {param: value}}``,
    e.g. a sidecar file's, named by ``sidecar`` in errors) apply to this image only."""
    plan = pipeline.plan_with(overrides or {}, source=sidecar)
    execution = execute(plan, source.pixels, pipeline.pool, context)
    main = plan.main_output
    kinds = {
        f"{node.id}.{port}": node.stage.outputs[port].kind
        for node in plan.nodes
        for port in node.stage.outputs
    }
    return RunResult(
        outputs={f"{n}.{p}": array for (n, p), array in execution.outputs.items()},
        main=f"{main.node}.{main.port}",
        source=source,
        kinds=kinds,
        seconds=execution.seconds,
        bypassed=execution.bypassed,
    )


@dataclass
class FileOutcome:
    """What happened to one input file."""

    source: Path
    status: Status
    seconds: float = 0.0
    message: str = ""
    written: list[Path] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)


class BatchObserver:
    """Progress callbacks of a batch run; the default does nothing."""

    def file_started(self, source: Path, index: int, total: int) -> None:
        """A file is about to be processed."""

    def tiles(self, node: str, done: int, total: int) -> None:
        """Tiles of the current node done so far."""

    def file_finished(self, outcome: FileOutcome) -> None:
        """A file is done, skipped or failed."""


def read_sidecar(image: Path) -> tuple[dict[str, Any], Path | None]:
    """The overrides in ``image``'s sidecar ``<stem>.restore.yaml`` and its path, if any."""
    sidecar = sidecar_path(image)
    if not sidecar.is_file():
        return {}, None
    return load_yaml(sidecar, "a sidecar maps node ids to {param: value}"), sidecar


class BatchRunner:
    """Runs one pipeline over many files; one bad file never stops the batch."""

    def __init__(
        self,
        pipeline: Pipeline,
        out_dir: Path,
        options: TileOptions,
        *,
        skip_existing: bool = False,
        suffix: str | None = None,
        observer: BatchObserver | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.out_dir = out_dir
        self.options = options
        self.skip_existing = skip_existing
        self.suffix = suffix
        self.observer = observer or BatchObserver()
        self.cancel = cancel

    def _targets(self, relative: Path) -> dict[str, Path]:
        """Output files by ``"node.port"`` in writing order: the main output last, so
        that its existence means the image is complete (outputs of bypassed nodes are
        never written)."""
        plan: Plan = self.pipeline.plan
        nodes = {node.id: node for node in plan.nodes}
        main = plan.main_output
        targets = {}
        for output in [*(o for o in plan.outputs if o is not main), main]:
            kind = nodes[output.node].stage.outputs[output.port].kind
            path = output_path(self.out_dir, relative, output.suffix, kind, self.suffix)
            targets[f"{output.node}.{output.port}"] = path
        return targets

    def run_file(self, path: Path, relative: Path, protect: Iterable[Path]) -> FileOutcome:
        """Restore one file and write its outputs; errors become a failed outcome."""
        started = time.perf_counter()
        targets = self._targets(relative)
        if self.skip_existing and next(reversed(targets.values())).exists():
            return FileOutcome(path, "skipped", message="outputs exist")
        context = RunContext(self.options, self.observer.tiles, self.cancel)
        try:
            overrides, sidecar = read_sidecar(path)
            result = restore_image(self.pipeline, read_image(path), context, overrides, sidecar)
            written = [
                result.save(target, key, protect=protect)
                for key, target in targets.items()
                if key in result.outputs  # a bypassed node's outputs are not written
            ]
        except Cancelled:
            raise
        except RestoreError as error:
            return FileOutcome(path, "failed", time.perf_counter() - started, str(error))
        except Exception as error:  # a stage bug must not end the batch
            message = f"{path}: {type(error).__name__}: {error}".splitlines()[0]
            return FileOutcome(path, "failed", time.perf_counter() - started, message)
        return FileOutcome(
            path,
            "done",
            time.perf_counter() - started,
            written=written,
            stage_seconds=result.seconds,
        )

    def run(self, source: Path) -> list[FileOutcome]:
        """Restore every image under ``source``; returns one outcome per file."""
        files = discover(source, exclude=self.out_dir)
        protect = {path.resolve() for path, _ in files}
        outcomes = []
        for index, (path, relative) in enumerate(files):
            self.observer.file_started(path, index, len(files))
            outcome = self.run_file(path, relative, protect)
            self.observer.file_finished(outcome)
            outcomes.append(outcome)
        return outcomes
