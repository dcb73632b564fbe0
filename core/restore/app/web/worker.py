"""A worker process: takes queued jobs from the store and runs each through the
one runner, keeping its pipelines (and so their stages and models) loaded
between jobs. Progress goes to the store; a job canceled there is stopped at
its next progress report."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import signal
import time
from collections import Counter
from dataclasses import replace
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from restore.api.errors import Cancelled, RestoreError
from restore.app.runner import RunResult, restore_image
from restore.app.web.catalog import Catalog
from restore.app.web.settings import RESULT_STEM, Settings
from restore.app.web.store import CANCELED, FAILED, RUNNING, SUCCEEDED, Measured, Store
from restore.engine.context import CancelToken, RunContext, TileOptions, resolve_device
from restore.engine.graph import Plan
from restore.io.files import output_path
from restore.io.images import LoadedImage, read_image

IDLE_SECONDS = 0.2  # how often an idle worker looks for a job
PROGRESS_SECONDS = 0.2  # how often progress is written (and a cancel noticed)


def serve_jobs(settings: Settings, stop: Event) -> None:
    """A worker process's body: run jobs until ``stop`` is set or the server is gone.
    Ctrl-C is left to the server, which stops its workers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, settings.workers)))
    server = multiprocessing.parent_process()
    worker = Worker(settings)
    try:
        while not stop.is_set() and (server is None or server.is_alive()):
            job = worker.store.claim(os.getpid(), time.time())
            if job is None:
                stop.wait(IDLE_SECONDS)
            else:
                worker.run(job)
    finally:
        worker.store.close()


class Worker:
    """Runs claimed jobs; one per process."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.database)
        self.catalog = Catalog.load(settings.pipelines)
        self.options = TileOptions(
            tile=settings.tile,
            overlap=settings.overlap,
            batch_size=settings.batch_size,
            device=resolve_device(settings.device),
        )
        self._versions: dict[str, dict[str, Any]] = {}

    def run(self, job: dict[str, Any]) -> None:
        """Run one claimed job to its end and record it; never raises for the job's sake."""
        folder = self.settings.jobs / job["id"]
        source_path = folder / job["input_file"]
        token = CancelToken()
        size: tuple[int, int] | None = None
        stage_seconds: dict[str, float] = {}
        outputs: dict[str, Any] = {}
        error: str | None = None
        try:
            pipeline = self.catalog.get(job["pipeline"])
            overrides = json.loads(job["params"])
            plan = pipeline.plan_with(overrides)
            loaded = read_image(source_path, max_pixels=self.settings.max_pixels)
            source = fit(loaded, job["max_megapixels"])
            size = (source.pixels.shape[1], source.pixels.shape[0])
            progress = Progress(self.store, job["id"], [node.id for node in plan.nodes], token)
            context = RunContext(self.options, progress, token, self.settings.max_pixels)
            result = restore_image(pipeline, source, context, overrides)
            stage_seconds = result.seconds
            outputs = save_outputs(result, plan, folder, source_path.suffix)
            status = SUCCEEDED
        except Cancelled:
            status = CANCELED
        except Exception as problem:  # a stage bug fails its job, not the worker
            status, error = FAILED, describe(problem, source_path, job["input_name"])
        measured = Measured(
            width=size[0] if size else None,
            height=size[1] if size else None,
            stage_seconds=stage_seconds,
            versions=self.versions(job["pipeline"]),
        )
        ended = self.store.finish(
            job["id"], status, time.time(), error=error, outputs=outputs, measured=measured
        )
        if not ended or status == CANCELED:  # canceled meanwhile: its files go
            shutil.rmtree(folder, ignore_errors=True)

    def versions(self, pipeline: str) -> dict[str, Any]:
        """The plugin and weights versions of ``pipeline``'s stages (worked out once)."""
        if pipeline not in self._versions:
            try:
                self._versions[pipeline] = self.catalog.versions(pipeline)
            except Exception:  # an unknown pipeline has no versions; its error is recorded
                self._versions[pipeline] = {}
        return self._versions[pipeline]


class Progress:
    """The runner's progress callback: overall progress (nodes done over nodes, plus
    the current node's fraction) written to the store at most every
    ``PROGRESS_SECONDS``; a job no longer running there is canceled."""

    def __init__(self, store: Store, job_id: str, nodes: list[str], token: CancelToken) -> None:
        self.store = store
        self.job_id = job_id
        self.index = {node: i for i, node in enumerate(nodes)}
        self.token = token
        self.node: str | None = None
        self.last = 0.0

    def __call__(self, node: str, done: int, total: int) -> None:
        now = time.monotonic()
        if node == self.node and now - self.last < PROGRESS_SECONDS:
            return
        self.node, self.last = node, now
        part = done / total if total else 0.0
        fraction = min(0.99, (self.index.get(node, 0) + part) / max(1, len(self.index)))
        if self.store.progress(self.job_id, fraction, node) != RUNNING:
            self.token.cancel()


def fit(source: LoadedImage, max_megapixels: float | None) -> LoadedImage:
    """``source`` downscaled (area resampling) to at most ``max_megapixels``; alpha and
    resolution follow. None, or a smaller picture, leaves it as it is."""
    height, width = source.pixels.shape[:2]
    if not max_megapixels or width * height <= max_megapixels * 1e6:
        return source
    scale = math.sqrt(max_megapixels * 1e6 / (width * height))
    size = (max(1, int(width * scale)), max(1, int(height * scale)))
    pixels = cv2.resize(source.pixels, size, interpolation=cv2.INTER_AREA)
    alpha = source.alpha
    if alpha is not None:
        alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
    dpi = source.dpi
    if dpi is not None:
        dpi = (dpi[0] * size[0] / width, dpi[1] * size[1] / height)
    pixels = np.ascontiguousarray(pixels.reshape(size[1], size[0], -1), dtype=np.float32)
    return replace(source, pixels=pixels, alpha=alpha, dpi=dpi)


def save_outputs(result: RunResult, plan: Plan, folder: Path, extension: str) -> dict[str, Any]:
    """Write every output the run made through the runner's writer; returns
    ``{"names": [...], "files": {name: file}}``. The main image is named ``image``,
    another output by its port where no other output has that port; every output
    is also found by its ``node.port`` key."""
    keys = [f"{output.node}.{output.port}" for output in plan.outputs]
    ports = Counter(o.port for o, key in zip(plan.outputs, keys, strict=True) if key != result.main)
    names: list[str] = []
    files: dict[str, str] = {}
    for output, key in zip(plan.outputs, keys, strict=True):
        if key not in result.outputs:  # a bypassed node's outputs are not written
            continue
        base = Path(RESULT_STEM + extension)
        path = output_path(folder, base, output.suffix, result.kinds[key], None)
        result.save(path, key)
        if key == result.main:
            name = "image"
        elif ports[output.port] == 1 and output.port != "image":
            name = output.port
        else:
            name = key
        names.append(name)
        files[name] = files[key] = path.name
    names.sort(key=lambda name: name != "image")
    return {"names": names, "files": files}


def describe(problem: Exception, source: Path, shown: str) -> str:
    """An exception as one line for the user, the server's paths replaced by ``shown``."""
    text = (
        str(problem)
        if isinstance(problem, RestoreError)
        else f"{type(problem).__name__}: {problem}"
    )
    text = " ".join(text.replace(str(source), shown).replace(str(source.parent), "").split())
    return text[:500]
