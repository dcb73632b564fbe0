"""Distributed benchmark: the same folder locally, on Ray with 1 actor and with 2.

Usage: python benchmarks/distributed.py [--pipeline examples/pipelines/denoise.yaml]
           [--count 24] [--size 512]

Writes ``--count`` synthesized photos of ``--size`` x ``--size`` into a temporary
folder and restores them three ways, each into its own empty output folder:
``--engine local`` with 1 torch thread (the per-image cost of one worker), Ray
with 1 actor and Ray with 2 actors (1 thread each: this machine has 2 cores),
all on a local Ray started once (``ray.init`` is timed apart). It prints, for
the whole run and for its steady state (from the first result to the last, so
without the actors' start-up, which a long batch pays once): images per second,
the scaling efficiency (speed over the local speed times the actors) and Ray's
overhead per image (worker-seconds per image beyond the local cost); then each
stage's seconds per megapixel from the local run, and the extrapolation to 10
million 12 MP scans from the steady state.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import ray
import torch

from restore.app.distributed.engine import ClusterOptions, run_on_ray
from restore.app.pipeline import Pipeline
from restore.app.runner import BatchObserver, BatchRunner, FileOutcome
from restore.io.images import write_image
from restore.testing import synthetic_photo

from common import table

# Pipeline.tile_options' arguments, as run_on_ray takes them.
TILING: dict[str, Any] = {"tile": 512, "overlap": 32, "batch_size": 4, "device": "cpu"}
ARCHIVE = 10_000_000  # scans
SCAN_MEGAPIXELS = 12.0


def runner_for(pipeline: Pipeline, out: Path) -> BatchRunner:
    return BatchRunner(pipeline, out, pipeline.tile_options(**TILING))


class Finishes(BatchObserver):
    """When each file finished (perf_counter seconds)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def file_finished(self, outcome: FileOutcome) -> None:
        self.times.append(time.perf_counter())


def checked(outcomes: list[FileOutcome], count: int) -> None:
    done = sum(o.status == "done" for o in outcomes)
    if done != count:
        problems = {o.message for o in outcomes if o.status != "done"}
        raise SystemExit(f"{done} of {count} images done: {problems}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", type=Path, default=Path("examples/pipelines/denoise.yaml"))
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    pipeline = Pipeline.from_yaml(args.pipeline)
    work = Path(tempfile.mkdtemp(prefix="restore-distributed-"))
    source = work / "in"
    for index in range(args.count):
        photo = synthetic_photo(args.size, args.size, seed=index)
        write_image(source / f"p{index:04d}.png", photo)
    megapixels = args.size * args.size / 1e6
    print(f"{args.count} photos of {args.size} x {args.size}, pipeline {args.pipeline}")

    torch.set_num_threads(1)
    started = time.perf_counter()
    local = runner_for(pipeline, work / "local").run(source)
    local_seconds = time.perf_counter() - started
    checked(local, args.count)

    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    init_seconds = time.perf_counter() - started
    speeds = {}  # actors -> (whole-run images/s, steady images/s, seconds to the first result)
    for workers in (1, 2):
        runner, finishes = runner_for(pipeline, work / f"ray{workers}"), Finishes()
        started = time.perf_counter()
        done = run_on_ray(
            pipeline, source, runner, TILING, ClusterOptions(workers=workers, threads=1), finishes
        )
        wall = time.perf_counter() - started
        checked(done.outcomes, args.count)
        first, last = finishes.times[0], finishes.times[-1]
        speeds[workers] = (args.count / wall, (args.count - 1) / (last - first), first - started)
    ray.shutdown()

    local_speed = args.count / local_seconds
    local_row = {"actors": 1.0, "images/s": local_speed, "efficiency": 1.0, "overhead s/image": 0.0}
    rows = {"--engine local, 1 thread": local_row | {"first result s": local_seconds / args.count}}
    steady: dict[str, dict[str, float]] = {"--engine local, 1 thread": local_row}
    for workers, (whole, rate, first_seconds) in speeds.items():
        label = f"--engine ray, {workers} actor{'s' * (workers > 1)}"
        for target, speed in ((rows, whole), (steady, rate)):
            target[label] = {
                "actors": workers,
                "images/s": speed,
                "efficiency": speed / (local_speed * workers),
                "overhead s/image": workers / speed - 1 / local_speed,
            }
        rows[label]["first result s"] = first_seconds
    table(f"Whole runs (ray.init: {init_seconds:.1f} s, not counted)", rows)
    table("Steady state (first result to last)", steady)

    stages: dict[str, float] = {}
    for outcome in local:
        for node, seconds in outcome.stage_seconds.items():
            stages[node] = stages.get(node, 0.0) + seconds / (megapixels * args.count)
    stage_rows = {node: {"s/MP": seconds} for node, seconds in stages.items()}
    table("Local per-stage cost (1 thread)", stage_rows, digits=3, corner="node")

    worker_seconds = 2 / speeds[2][1]  # per image on Ray, steady, decoding overlapped
    per_scan = worker_seconds * SCAN_MEGAPIXELS / megapixels
    print(
        f"\nExtrapolation to {ARCHIVE:,} scans of {SCAN_MEGAPIXELS:g} MP with this pipeline: "
        f"{worker_seconds:.3f} worker-seconds per {megapixels:.2f} MP image on Ray (steady, "
        f"1 thread per worker, Ray's overhead included; local: {local_seconds / args.count:.3f})"
        f" -> {per_scan:.1f} s per scan (linear in pixels: tiled); "
        f"hours = {ARCHIVE:,} x {per_scan:.1f} / workers / 3600:"
    )
    for workers in (1, 100, 1000):
        hours = ARCHIVE * per_scan / workers / 3600
        print(f"  {workers:>5} workers: {hours:,.0f} h ({hours / 24:,.1f} days)")


if __name__ == "__main__":
    main()
