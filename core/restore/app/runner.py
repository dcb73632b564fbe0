"""Running a pipeline over files and folders: discovery, output naming, per-file outcomes."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from restore.engine.config import OutputConfig, load_yaml
from restore.api.errors import Cancelled, RestoreError
from restore.engine.executor import execute
from restore.engine.graph import Plan
from restore.io.images import SUPPORTED_SUFFIXES, LoadedImage, read_image, write_image
from restore.app.pipeline import Pipeline
from restore.api.stage import PortKind
from restore.engine.tiling import CancelToken, TileOptions

Status = Literal["done", "skipped", "failed"]


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


def discover(source: Path, exclude: Path | None = None) -> list[tuple[Path, Path]]:
    """Image files under ``source`` (or ``source`` itself) with their relative paths, sorted.

    Hidden files and anything under ``exclude`` (the output folder) are left out.
    """
    if source.is_file():
        return [(source, Path(source.name))]
    if not source.is_dir():
        raise RestoreError(f"{source}: no such file or folder")
    excluded = exclude.resolve() if exclude else None
    found = []
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if excluded and path.resolve().is_relative_to(excluded):
            continue
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES:
            found.append((path, relative))
    return found


def sidecar_path(image: Path) -> Path:
    """Per-image parameter overrides for ``image``: ``<stem>.restore.yaml`` beside it."""
    return image.with_name(f"{image.stem}.restore.yaml")


def output_path(
    out_dir: Path, relative: Path, output: OutputConfig, kind: PortKind, suffix: str | None
) -> Path:
    """Where an output goes: masks as PNG, images in ``suffix`` (default: the input's)."""
    extension = ".png" if kind is PortKind.MASK else (suffix or relative.suffix)
    if not extension.startswith("."):
        extension = "." + extension
    return out_dir / relative.parent / f"{relative.stem}{output.suffix}{extension.lower()}"


def _fit_alpha(alpha: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    height, width = shape[:2]
    if alpha.shape == (height, width):
        return alpha
    return cv2.resize(alpha, (width, height), interpolation=cv2.INTER_LINEAR)


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

    def _targets(self, relative: Path) -> dict[tuple[str, str], tuple[Path, PortKind]]:
        """Output files in writing order: the main output last, so that its existence
        means the image is complete (outputs of bypassed nodes are never written)."""
        plan = self.pipeline.plan
        nodes = {node.id: node for node in plan.nodes}
        targets = {}
        main = plan.main_output
        for output in [*(o for o in plan.outputs if o is not main), main]:
            kind = nodes[output.node].stage.outputs[output.port].kind
            path = output_path(self.out_dir, relative, output, kind, self.suffix)
            targets[(output.node, output.port)] = (path, kind)
        return targets

    def _write(
        self,
        source: LoadedImage,
        arrays: dict[tuple[str, str], np.ndarray],
        targets: dict[tuple[str, str], tuple[Path, PortKind]],
        protect: set[Path],
    ) -> list[Path]:
        written = []
        for ref, (path, kind) in targets.items():
            if ref not in arrays:
                continue  # its node was bypassed for this input
            array = arrays[ref]
            if kind is PortKind.MASK:
                written.append(write_image(path, array, protect=protect))
                continue
            alpha = None if source.alpha is None else _fit_alpha(source.alpha, array.shape)
            written.append(
                write_image(
                    path,
                    array,
                    alpha=alpha,
                    bit_depth=source.bit_depth,
                    icc_profile=source.icc_profile,
                    protect=protect,
                )
            )
        return written

    def _plan_for(self, path: Path) -> Plan:
        """The pipeline's plan, with the image's sidecar ``<stem>.restore.yaml`` applied."""
        sidecar = sidecar_path(path)
        if not sidecar.is_file():
            return self.pipeline.plan
        overrides = load_yaml(sidecar, "a sidecar maps node ids to {param: value}")
        return self.pipeline.plan_with(overrides, source=sidecar)

    def run_file(self, path: Path, relative: Path, protect: set[Path]) -> FileOutcome:
        """Restore one file and write its outputs; errors become a failed outcome."""
        started = time.perf_counter()
        targets = self._targets(relative)
        main_target, _ = next(reversed(targets.values()))
        if self.skip_existing and main_target.exists():
            return FileOutcome(path, "skipped", message="outputs exist")
        try:
            source = read_image(path)
            execution = execute(
                self._plan_for(path),
                self.pipeline.registry,
                source.pixels,
                self.options,
                progress=self.observer.tiles,
                cancel=self.cancel,
            )
            written = self._write(source, execution.outputs, targets, protect)
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
            stage_seconds=execution.seconds,
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
