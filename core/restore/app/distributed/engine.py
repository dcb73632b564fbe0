"""``--engine ray``: one batch on a Ray cluster, with the local batch's rules.

The driver plans the batch exactly as a local run does (``BatchRunner.prepare``:
discovery, output names and their clashes, the paths no output may replace, what
dead batches left). Jobs decided without running (a problem, outputs that exist)
are reported at once; the rest stream through Ray Data: ``decode`` tasks read the
files on CPU, a fixed pool of ``RestoreWorker`` actors (each with the pipeline
built once, ``threads`` torch threads and ``num_cpus=threads`` reserved, so
actors x threads never exceeds a node's cores) restores and writes them. Outcomes
come back as small records, appended to ``OUT/restore-report.jsonl`` as they
arrive. Ray is imported only here, so a local run never loads it.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Generator, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

import ray
import ray.data

from restore.api.errors import RestoreError
from restore.app.distributed.report import DRIVER, Report, outcome_record
from restore.app.distributed.worker import RestoreWorker, Tracker, decode, job_row, outcome_of
from restore.app.pipeline import Pipeline
from restore.app.runner import BatchObserver, BatchRunner, FileOutcome
from restore.io.staging import clean_leftovers

POLL_SECONDS = 0.5  # how often the driver asks how many jobs have started
IN_FLIGHT_PER_WORKER = 2  # decoded images queued on one actor at most


@dataclass(frozen=True)
class ClusterOptions:
    """Where and how wide to run: ``address`` of a running cluster (None: start a
    local Ray), restoration ``workers`` (actors), ``gpus_per_worker`` and torch
    ``threads`` per worker (None: the node's CPUs shared by its workers)."""

    address: str | None = None
    workers: int = 1
    gpus_per_worker: float = 0.0
    threads: int | None = None


@dataclass
class ClusterRun:
    """A finished distributed batch: the outcomes in input order, the report file
    and this run's id in it."""

    outcomes: list[FileOutcome]
    report: Path
    run: str


@contextmanager
def connected(address: str | None) -> Iterator[None]:
    """Ray connected to ``address`` (or to a new local Ray); one this process
    started is shut down again. An already initialised Ray is used as it is."""
    if ray.is_initialized():
        yield
        return
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = address or "a local Ray"
        raise RestoreError(f"cannot start or reach {where}: {error}") from None
    try:
        yield
    finally:
        ray.shutdown()


def worker_threads(options: ClusterOptions) -> int:
    """Torch threads per worker: as given, or the smallest node's CPUs shared by
    the workers each node gets; refused when the cluster cannot hold them all."""
    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    cpus = [int(resources.get("CPU", 0)) for resources in nodes]
    per_node = math.ceil(options.workers / max(1, len(nodes)))
    threads = options.threads or max(1, min(cpus, default=1) // per_node)
    if options.workers * threads > sum(cpus):
        raise RestoreError(
            f"{options.workers} workers x {threads} threads need {options.workers * threads} "
            f"CPUs; the cluster has {sum(cpus)}"
        )
    return threads


def run_on_ray(
    pipeline: Pipeline,
    source: Path,
    runner: BatchRunner,
    tiling: dict[str, Any],
    cluster: ClusterOptions,
    observer: BatchObserver | None = None,
) -> ClusterRun:
    """Restore every image under ``source`` on Ray with ``runner``'s rules and
    output folder; ``tiling`` holds ``Pipeline.tile_options``' arguments, which
    each worker resolves for its own device."""
    observer = observer or BatchObserver()
    source, out_dir = source.absolute(), runner.out_dir.absolute()
    runner.out_dir = out_dir
    jobs, protect = runner.prepare(source)
    observer.batch_started(len(jobs))
    outcomes: dict[int, FileOutcome] = {}
    report = Report(out_dir)
    if not jobs:
        return ClusterRun([], report.path, report.run)
    with connected(cluster.address), report:
        pending = []
        for index, job in enumerate(jobs):
            decided = runner.decided(job)
            if decided is None:
                pending.append(job_row(index, job))
                continue
            outcomes[index] = decided
            report.add(outcome_record(decided, DRIVER))
            observer.file_finished(decided)
        if pending:
            threads = worker_threads(cluster)
            tracker = Tracker.remote()  # type: ignore[attr-defined]
            worker = {
                "config": pipeline.config.model_dump(),
                "source": None if pipeline.source is None else str(pipeline.source),
                "out_dir": str(out_dir),
                "tiling": tiling,
                "runner": {
                    "skip_existing": runner.skip_existing,
                    "overwrite": runner.overwrite,
                    "suffix": runner.extension,
                    "max_pixels": runner.max_pixels,
                },
                "protect": sorted(str(path) for path in protect),
                "threads": threads,
                "tracker": tracker,
                "cwd": os.getcwd(),
            }
            results = _dataset(pending, worker, runner.max_pixels, cluster)
            finished = len(outcomes)
            rows = cast(Generator[dict[str, Any]], iter(results.iter_rows()))  # a generator
            # Closed however the loop ends (Ctrl-C too), so the actors let their CPUs go.
            with _polling(tracker, observer, lambda: len(outcomes) - finished), closing(rows):
                for result in rows:
                    outcome, name = outcome_of(result)
                    outcomes[int(result["index"])] = outcome
                    report.add(outcome_record(outcome, name))
                    observer.file_finished(outcome)
        clean_leftovers(out_dir)  # what killed workers left, now that none is running
    return ClusterRun([outcomes[i] for i in sorted(outcomes)], report.path, report.run)


def _dataset(
    rows: list[dict[str, Any]],
    worker: dict[str, Any],
    max_pixels: int | None,
    cluster: ClusterOptions,
) -> ray.data.Dataset:
    """The streaming plan: rows -> decode (CPU tasks) -> restore (the actor pool)."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the driver shows its own
    decoders = ray.data.TaskPoolStrategy(size=cluster.workers + 1)
    pool = ray.data.ActorPoolStrategy(
        size=cluster.workers, max_tasks_in_flight_per_actor=IN_FLIGHT_PER_WORKER
    )
    return (
        ray.data.from_items(rows, override_num_blocks=min(len(rows), 8 * cluster.workers))
        .map(partial(decode, max_pixels=max_pixels), compute=decoders, num_cpus=0)
        .map(
            RestoreWorker,  # type: ignore[arg-type]  # a callable class: Ray makes the actors
            fn_constructor_kwargs=worker,
            compute=pool,
            num_cpus=worker["threads"],
            num_gpus=cluster.gpus_per_worker or None,
        )
    )


@contextmanager
def _polling(tracker: Any, observer: BatchObserver, received: Any) -> Iterator[None]:
    """Tell ``observer`` every ``POLL_SECONDS`` how many started jobs have not come back."""
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(POLL_SECONDS):
            started = ray.get(tracker.count.remote())
            observer.in_flight(max(0, started - received()))

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
