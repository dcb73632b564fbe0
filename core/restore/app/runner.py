"""The one runner: every front-end (Python API, CLI, web, cluster) restores images here.

``restore_image`` runs a pipeline on one decoded image and returns a
``RunResult`` that carries the source's metadata, so ``RunResult.save`` writes
with nothing lost. ``BatchRunner`` runs it over files and folders: discovery,
sidecars, output naming, writing, per-file outcomes.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from restore.api.errors import Cancelled, MetadataWarning, RestoreError
from restore.api.stage import PortKind
from restore.engine.config import load_yaml
from restore.engine.context import CancelToken, RunContext, TileOptions
from restore.engine.executor import execute
from restore.engine.graph import Plan
from restore.io.files import (
    Found,
    discover,
    inside,
    name_key,
    output_extension,
    output_path,
    sidecar_path,
)
from restore.io.images import (
    DEFAULT_MAX_PIXELS,
    Encoded,
    LoadedImage,
    prepare_output,
    read_image,
    write_encoded,
)
from restore.io.staging import Staging, clean_leftovers

if TYPE_CHECKING:
    from restore.app.pipeline import Pipeline

Status = Literal["done", "skipped", "failed"]
T = TypeVar("T")


@dataclass
class RunResult:
    """Outputs of one image, keyed ``"node.port"``; ``image`` is the main output.

    ``source`` is the decoded input with its metadata (alpha, bit depth, ICC
    profile, EXIF, resolution), so ``save`` writes an output with nothing lost.
    ``bypassed`` maps each node that did not run to the reason; ``notes`` says
    in words what a user should know (conditional nodes, dropped frames).
    """

    outputs: dict[str, np.ndarray]
    main: str
    source: LoadedImage
    kinds: dict[str, PortKind] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    bypassed: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def image(self) -> np.ndarray:
        """The main restored image, H x W x C float32 in [0, 1]."""
        return self.outputs[self.main]

    def encoded(self, path: str | Path, output: str | None = None) -> Encoded:
        """``output`` (default: the main image) encoded for ``path``, not yet written."""
        key = output or self.main
        if key not in self.outputs:
            known = ", ".join(self.outputs) or "none"
            raise RestoreError(f"no output {key!r} in this result (outputs: {known})")
        mask = self.kinds.get(key) is PortKind.MASK
        return prepare_output(Path(path), self.outputs[key], self.source, mask=mask)

    def save(
        self, path: str | Path, output: str | None = None, *, protect: Iterable[Path] = ()
    ) -> Path:
        """Write ``output`` (default: the main image) to ``path`` through the same
        writer the CLI uses, never over the source file or a path in ``protect``.
        What the file format cannot hold (alpha in JPEG ...) is a MetadataWarning."""
        encoded = self.encoded(path, output)
        for message in encoded.warnings:
            warnings.warn(f"{path}: {message}", MetadataWarning, stacklevel=2)
        sources = [self.source.path] if self.source.path is not None else []
        return write_encoded(encoded, [*sources, *protect])


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
    conditional = [node.id for node in plan.nodes if node.when is not None]
    notes = [
        f"{node} bypassed ({execution.bypassed[node]})"
        if node in execution.bypassed
        else f"{node} ran (input is {'grayscale' if execution.grayscale else 'colour'})"
        for node in conditional
    ]
    notes += [
        f"{node} bypassed ({reason})"
        for node, reason in execution.bypassed.items()
        if node not in conditional and reason != "disabled"
    ]
    return RunResult(
        outputs={f"{n}.{p}": array for (n, p), array in execution.outputs.items()},
        main=f"{main.node}.{main.port}",
        source=source,
        kinds=kinds,
        seconds=execution.seconds,
        bypassed=execution.bypassed,
        notes=[*source.warnings, *notes],
    )


@dataclass
class FileOutcome:
    """What happened to one input file; ``notes`` are what the user should know
    (conditional nodes, metadata a format could not hold, dropped frames)."""

    source: Path
    status: Status
    seconds: float = 0.0
    message: str = ""
    written: list[Path] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class BatchObserver:
    """Progress callbacks of a batch run; the default does nothing."""

    def batch_started(self, total: int) -> None:
        """The inputs are counted: ``total`` files will be processed."""

    def file_started(self, source: Path, index: int, total: int) -> None:
        """A file is about to be processed."""

    def tiles(self, node: str, done: int, total: int) -> None:
        """Tiles (or steps) of the current node done so far."""

    def file_finished(self, outcome: FileOutcome) -> None:
        """A file is done, skipped or failed."""

    def in_flight(self, count: int) -> None:
        """Distributed batches: ``count`` files are on workers right now."""


def read_sidecar(image: Path) -> tuple[dict[str, Any], Path | None]:
    """The overrides in ``image``'s sidecar ``<stem>.restore.yaml`` and its path, if any."""
    sidecar = sidecar_path(image)
    if not os.path.lexists(sidecar):
        return {}, None
    shape = "a sidecar maps node ids to {param: value}"
    return load_yaml(sidecar, shape, empty_ok=True), sidecar


@dataclass
class Job:
    """One input file of a batch and where its outputs go (``"node.port"`` -> path,
    the main output last), or why it cannot run (``problem``)."""

    found: Found
    targets: dict[str, Path]
    problem: str | None = None

    @property
    def main(self) -> Path:
        """Where the main output goes (written last: its presence means all are there)."""
        return next(reversed(self.targets.values()))


@dataclass
class Loaded:
    """A job's decoded image and its sidecar's overrides (``sidecar``: the file, if any)."""

    source: LoadedImage
    overrides: dict[str, Any]
    sidecar: Path | None


def load_job(job: Job, max_pixels: int | None) -> Loaded:
    """Decode one job's image and read its sidecar (RestoreError if either is bad)."""
    overrides, sidecar = read_sidecar(job.found.path)
    return Loaded(read_image(job.found.path, max_pixels=max_pixels), overrides, sidecar)


def guarded(
    job: Job, started: float, work: Callable[[], T], *, skip_existing: bool = False
) -> T | FileOutcome:
    """``work()`` for ``job``, or the failed outcome its error makes: one bad file
    (or a stage bug) never ends the batch. With ``skip_existing``, a job whose
    outputs another batch wrote meanwhile is skipped."""
    path = job.found.path
    try:
        return work()
    except Cancelled:
        raise
    except RestoreError as error:
        if skip_existing and os.path.lexists(job.main):  # another batch was quicker
            return FileOutcome(path, "skipped", message="outputs written by another run")
        return FileOutcome(path, "failed", time.perf_counter() - started, str(error))
    except Exception as error:  # a stage bug must not end the batch
        message = f"{path}: {type(error).__name__}: {error}".splitlines()[0]
        return FileOutcome(path, "failed", time.perf_counter() - started, message)


class BatchRunner:
    """Runs one pipeline over many files; one bad file never stops the batch.

    The safety rules: every output lands inside ``out_dir`` (names are built
    from validated parts and checked); a run never replaces a file it did not
    write itself in this batch unless ``overwrite``, and never an input; inputs
    whose outputs would share a file (``a.png``/``a.PNG``, ``x.png``/``x.jpg``
    with one ``extension``) are found before any work and all but the first
    fail; an image's outputs appear all together or not at all; what a killed
    batch left behind is cleaned up at the start of the next one.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        out_dir: Path,
        options: TileOptions,
        *,
        skip_existing: bool = False,
        overwrite: bool = False,
        suffix: str | None = None,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        observer: BatchObserver | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.out_dir = out_dir
        self.options = options
        self.skip_existing = skip_existing
        self.overwrite = overwrite
        self.extension = output_extension(suffix) if suffix is not None else None
        self.max_pixels = max_pixels
        self.observer = observer or BatchObserver()
        self.cancel = cancel

    def _targets(self, relative: Path) -> dict[str, Path]:
        """Output files by ``"node.port"`` in writing order, the main output last."""
        plan: Plan = self.pipeline.plan
        nodes = {node.id: node for node in plan.nodes}
        main = plan.main_output
        targets = {}
        for output in [*(o for o in plan.outputs if o is not main), main]:
            kind = nodes[output.node].stage.outputs[output.port].kind
            path = output_path(self.out_dir, relative, output.suffix, kind, self.extension)
            targets[f"{output.node}.{output.port}"] = path
        return targets

    def plan_jobs(self, found: list[Found]) -> list[Job]:
        """Every input with its targets. An input whose output would be the same
        file as another input's (compared as a file system may: ignoring case),
        or a folder holding another input's output, or the other way round, gets
        a problem; the first input in order keeps its names."""
        jobs = []
        files: dict[str, Path] = {}  # name key of every claimed output -> its input
        folders: dict[str, Path] = {}  # name key of every folder an output needs -> input
        root = Path(os.path.realpath(self.out_dir))
        for item in found:
            targets = self._targets(item.relative)
            # Real paths: a link between folders already in the output folder joins names.
            real = [Path(os.path.realpath(t)) for t in targets.values()]
            keys = [name_key(t) for t in real]
            parents = {name_key(p) for t in real for p in t.parents if p.is_relative_to(root)}
            parents.discard(name_key(root))
            clash = next((files[k] for k in [*keys, *parents] if k in files), None)
            clash = clash or next((folders[k] for k in keys if k in folders), None)
            problem = item.problem
            if problem is None and clash is not None:
                problem = f"its output would be the same file as that of {clash}; rename one"
            if problem is None:
                files.update(dict.fromkeys(keys, item.path))
                folders.update(dict.fromkeys(parents, item.path))
            jobs.append(Job(item, targets, problem))
        return jobs

    def decided(self, job: Job) -> FileOutcome | None:
        """The outcome of a job that needs no work (it cannot run, or its outputs
        exist and may not be replaced), or None when it must run."""
        path = job.found.path
        if job.problem:
            return FileOutcome(path, "failed", message=f"{path}: {job.problem}")
        if self.skip_existing and os.path.lexists(job.main):
            return FileOutcome(path, "skipped", message="outputs exist")
        existing = [t for t in job.targets.values() if os.path.lexists(t)]
        if existing and not self.overwrite:
            # Outputs appear all together: one without its main output is not this tool's.
            hint = "use --overwrite" if self.skip_existing else "use --overwrite or --skip-existing"
            return FileOutcome(path, "failed", message=f"{existing[0]}: already exists ({hint})")
        return None

    def restore(
        self, job: Job, loaded: Loaded, staging: Staging, protect: set[Path], started: float
    ) -> FileOutcome:
        """Run the pipeline on a decoded job and commit its outputs."""
        context = RunContext(self.options, self.observer.tiles, self.cancel, self.max_pixels)
        result = restore_image(
            self.pipeline, loaded.source, context, loaded.overrides, loaded.sidecar
        )
        encoded = [
            result.encoded(target, key)
            for key, target in job.targets.items()
            if key in result.outputs  # a bypassed node's outputs are not written
        ]
        written = staging.commit(encoded, overwrite=self.overwrite, protect=protect)
        notes = [*result.notes]
        notes += [f"{item.path.name}: {w}" for item in encoded for w in item.warnings]
        return FileOutcome(
            job.found.path,
            "done",
            time.perf_counter() - started,
            written=written,
            stage_seconds=result.seconds,
            notes=notes,
        )

    def run_job(self, job: Job, staging: Staging, protect: set[Path]) -> FileOutcome:
        """Restore one file and commit its outputs; errors become a failed outcome."""
        started = time.perf_counter()
        if (outcome := self.decided(job)) is not None:
            return outcome
        skip = self.skip_existing
        loaded = guarded(job, started, partial(load_job, job, self.max_pixels), skip_existing=skip)
        if isinstance(loaded, FileOutcome):
            return loaded
        work = partial(self.restore, job, loaded, staging, protect, started)
        return guarded(job, started, work, skip_existing=skip)

    def prepare(self, source: Path) -> tuple[list[Job], set[Path]]:
        """The jobs of a batch over ``source`` and the paths no output may replace;
        an empty batch leaves the output folder alone, otherwise it is made and what
        dead batches left in it is undone."""
        if self.out_dir.exists() and not self.out_dir.is_dir():
            raise RestoreError(f"{self.out_dir}: the output folder is not a folder")
        if source.is_dir() and os.path.realpath(source) == os.path.realpath(self.out_dir):
            raise RestoreError(f"{self.out_dir}: the output folder cannot be the input folder")
        jobs = self.plan_jobs(discover(source, exclude=self.out_dir))
        if not jobs:
            return jobs, set()
        protect = self._inputs(source, jobs)
        try:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            clean_leftovers(self.out_dir)
        except OSError as error:
            raise RestoreError(f"{self.out_dir}: cannot write there ({error.strerror})") from None
        return jobs, protect

    def run(self, source: Path) -> list[FileOutcome]:
        """Restore every image under ``source``; returns one outcome per file."""
        jobs, protect = self.prepare(source)
        self.observer.batch_started(len(jobs))
        outcomes: list[FileOutcome] = []
        if not jobs:
            return outcomes
        try:
            with Staging(self.out_dir) as staging:
                for index, job in enumerate(jobs):
                    self.observer.file_started(job.found.path, index, len(jobs))
                    outcome = self.run_job(job, staging, protect)
                    self.observer.file_finished(outcome)
                    outcomes.append(outcome)
        except OSError as error:  # the output folder itself: run_job reports per file
            raise RestoreError(f"{self.out_dir}: cannot write there ({error.strerror})") from None
        return outcomes

    def _inputs(self, source: Path, jobs: list[Job]) -> set[Path]:
        """What even ``overwrite`` never replaces: the input files, their sidecars
        and, when the output folder is inside the input folder, every file already
        in it (there, a user's own photos and earlier outputs look alike)."""
        paths = [job.found.path for job in jobs]
        paths += [sidecar_path(path) for path in paths]
        if source.is_dir() and inside(self.out_dir, source) and self.out_dir.is_dir():
            paths += [p for p in self.out_dir.rglob("*") if p.is_file()]
        return {Path(os.path.realpath(path)) for path in paths}
