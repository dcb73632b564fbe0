"""What runs on the cluster: decoding tasks and the restoration actors.

Rows travel as plain values: ``index``, ``path``, ``relative`` and ``targets``
(JSON: ``"node.port"`` -> output path, as the driver's ``BatchRunner`` planned
them). ``decode`` (a Ray Data task) reads the image and its sidecar and adds the
pickled ``Loaded`` (or the failure). A ``RestoreWorker`` actor builds the
pipeline once and runs each decoded image through the same ``BatchRunner`` the
CLI uses, committing its outputs into the output folder itself: full images
never go back to the driver, only the outcome.

Ray runs actor tasks at least once: a task whose actor died is retried on its
restarted actor (Ray Data's default ``max_restarts=-1, max_task_retries=-1``).
So a worker that finds a target already there first undoes what dead workers
left half-committed (``clean_leftovers``); a main output still there then was
written, complete, by an earlier attempt of this same task (the driver sent only
jobs whose outputs did not exist), and the job is done without running again.
"""

from __future__ import annotations

import json
import os
import pickle
import time
from functools import partial
from pathlib import Path
from typing import Any

import ray
import torch

from restore.app.distributed.report import outcome_from_record, outcome_record
from restore.app.pipeline import Pipeline
from restore.app.runner import BatchRunner, FileOutcome, Job, Loaded, guarded, load_job
from restore.io.files import Found
from restore.io.staging import Staging, clean_leftovers


def job_row(index: int, job: Job) -> dict[str, Any]:
    """The row that carries ``job`` to the cluster."""
    targets = {key: str(path) for key, path in job.targets.items()}
    return {
        "index": index,
        "path": str(job.found.path),
        "relative": str(job.found.relative),
        "targets": json.dumps(targets),
    }


def job_of(row: dict[str, Any]) -> Job:
    """The job a row carries."""
    targets = {key: Path(path) for key, path in json.loads(row["targets"]).items()}
    return Job(Found(Path(row["path"]), Path(row["relative"])), targets)


def worker_name() -> str:
    """``<node address>:<pid>``: which worker ran a job."""
    return f"{ray.util.get_node_ip_address()}:{os.getpid()}"


@ray.remote(num_cpus=0)
class Tracker:
    """Counts the jobs that workers have started, for the driver's "in flight"."""

    def __init__(self) -> None:
        self.started: set[int] = set()

    def start(self, index: int) -> None:
        """A worker has begun job ``index`` (again, if it is retried)."""
        self.started.add(index)

    def count(self) -> int:
        """How many distinct jobs have been started."""
        return len(self.started)


def decode(row: dict[str, Any], *, max_pixels: int | None) -> dict[str, Any]:
    """A Ray Data task: ``row`` with its image decoded (``loaded``, pickled) or the
    failed outcome (``failure``, a report record) when the file or sidecar is bad."""
    job = job_of(row)
    loaded = guarded(job, time.perf_counter(), partial(load_job, job, max_pixels))
    if isinstance(loaded, FileOutcome):
        return {**row, "loaded": b"", "failure": json.dumps(outcome_record(loaded, worker_name()))}
    return {**row, "loaded": pickle.dumps(loaded, protocol=5), "failure": ""}


class RestoreWorker:
    """A Ray Data actor: one pipeline, built once, restoring decoded rows."""

    def __init__(
        self,
        *,
        config: dict[str, Any],
        source: str | None,
        out_dir: str,
        tiling: dict[str, Any],
        runner: dict[str, Any],
        protect: list[str],
        threads: int,
        tracker: Any,
        cwd: str,
    ) -> None:
        if os.path.isdir(cwd):  # relative paths in sidecars mean what they meant to the user
            os.chdir(cwd)
        torch.set_num_threads(threads)
        pipeline = Pipeline(config, source=source)
        options = pipeline.tile_options(**tiling)
        self.out_dir = Path(out_dir)
        self.runner = BatchRunner(pipeline, self.out_dir, options, **runner)
        self.protect = {Path(path) for path in protect}
        self.tracker = tracker
        self.name = worker_name()

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        """Restore one decoded row; returns its index and report record (``record``)."""
        self.tracker.start.remote(int(row["index"]))
        if row["failure"]:
            return {"index": row["index"], "record": row["failure"]}
        outcome = self.restore(job_of(row), row["loaded"])
        return {"index": row["index"], "record": json.dumps(outcome_record(outcome, self.name))}

    def restore(self, job: Job, payload: bytes) -> FileOutcome:
        """Restore and commit one job, once, whatever earlier attempts left."""
        started = time.perf_counter()
        if any(os.path.lexists(target) for target in job.targets.values()):
            clean_leftovers(self.out_dir)  # a dead attempt's half-committed outputs
            if not self.runner.overwrite and os.path.lexists(job.main):
                written = [t for t in job.targets.values() if os.path.lexists(t)]
                message = "written by an earlier attempt of this job (its worker was lost)"
                return FileOutcome(job.found.path, "done", 0.0, message, written)
        loaded: Loaded = pickle.loads(payload)
        with Staging(self.out_dir) as staging:
            work = partial(self.runner.restore, job, loaded, staging, self.protect, started)
            return guarded(job, started, work, skip_existing=self.runner.skip_existing)


def outcome_of(result: dict[str, Any]) -> tuple[FileOutcome, str]:
    """A worker's result row as an outcome and the worker's name."""
    record = json.loads(result["record"])
    return outcome_from_record(record), record["worker"]
