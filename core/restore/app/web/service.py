"""What the endpoints do, apart from HTTP: accept an upload as a job, describe a
job, cancel it, find its files, and sweep away what has expired. Every method
is blocking (SQLite, files): the server calls them in its threadpool."""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import secrets
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from restore.app.web.catalog import BadRequest, Catalog, megapixels_limit
from restore.app.web.settings import RESULT_STEM, Settings
from restore.app.web.store import SUCCEEDED, NewJob, Store
from restore.app.web.uploads import (
    EXTENSIONS,
    Upload,
    UploadError,
    check_pixels,
    display_name,
    picture_size,
)

logger = logging.getLogger(__name__)

MAX_LISTED = 50
_JOB_ID_BYTES = 16


class QueueFull(UploadError):
    """``--queue`` jobs are waiting already: HTTP 429 with Retry-After."""

    def __init__(self, limit: int, retry_after: int) -> None:
        super().__init__(429, f"the queue is full ({limit} jobs waiting): try again later")
        self.retry_after = retry_after


class Service:
    """The jobs of one server: its settings, store, pipelines and clock."""

    def __init__(
        self, settings: Settings, store: Store, catalog: Catalog, clock: Callable[[], float]
    ) -> None:
        self.settings = settings
        self.store = store
        self.catalog = catalog
        self.clock = clock

    def check_room(self) -> None:
        """QueueFull when ``--queue`` jobs are queued already."""
        if self.store.counts()["queued"] >= self.settings.queue:
            raise self._full()

    def accept(self, upload: Upload, session: str) -> str:
        """Check an upload's fields and picture and queue it as a job; returns its id.
        BadRequest (422), UploadError (413, 415) or QueueFull (429) say why not."""
        pipeline = upload.fields.get("pipeline", "").strip()
        if not pipeline:
            raise BadRequest("pipeline: missing (the name of one of GET /api/pipelines)")
        overrides = self.catalog.overrides(pipeline, upload.fields.get("params"))
        limit = megapixels_limit(upload.fields.get("max_megapixels"))
        assert upload.format is not None  # receive_form has recognised it
        width, height = picture_size(upload.path, upload.format)
        check_pixels(width, height, self.settings.max_pixels)
        job_id = secrets.token_urlsafe(_JOB_ID_BYTES)
        folder = self.settings.jobs / job_id
        input_file = "input" + EXTENSIONS[upload.format]
        job = NewJob(
            id=job_id,
            session=session,
            pipeline=pipeline,
            params=overrides,
            max_megapixels=limit,
            input_name=display_name(upload.filename),
            input_file=input_file,
            width=width,
            height=height,
        )
        folder.mkdir(parents=True)  # a new id: never another job's folder
        try:
            os.replace(upload.path, folder / input_file)
            added = self.store.add(job, self.clock(), self.settings.queue)
        except BaseException:  # a full disk, a locked database ...: no files stay behind
            shutil.rmtree(folder, ignore_errors=True)
            raise
        if not added:
            shutil.rmtree(folder, ignore_errors=True)
            raise self._full()
        return job_id

    def _full(self) -> QueueFull:
        """The refusal of a full queue, with a guess at when a place frees up."""
        mean = self.store.mean_seconds() or 10.0
        wait = math.ceil(mean / max(1, self.settings.workers))
        return QueueFull(self.settings.queue, min(60, max(1, wait)))

    def status(self, job_id: str, session: str) -> dict[str, Any] | None:
        """The status object of a session's job; None for another session's or none."""
        row = self.store.job(job_id, session)
        return describe(row) if row is not None else None

    def statuses(self, session: str) -> list[dict[str, Any]]:
        """A session's recent jobs, newest first."""
        return [describe(row) for row in self.store.jobs(session, MAX_LISTED)]

    def result(self, job_id: str, session: str, port: str) -> tuple[Path, str] | None:
        """A finished job's output file ``port`` and its download name; None if not found.
        BadRequest (as 404) names the outputs when ``port`` is not one of them."""
        row = self.store.job(job_id, session)
        if row is None:
            return None
        if row["status"] != SUCCEEDED:
            raise LookupError(f"job {job_id} has no result (it is {row['status']})")
        files: Mapping[str, str] = json.loads(row["outputs"]).get("files", {})
        if port not in files:
            known = ", ".join(json.loads(row["outputs"]).get("names", []))
            raise LookupError(f"job {job_id} has no output {port!r} (outputs: {known})")
        name = files[port]
        shown = Path(row["input_name"]).stem or "image"
        return self.settings.jobs / job_id / name, f"{shown}-restored{name[len(RESULT_STEM) :]}"

    def source(self, job_id: str, session: str) -> tuple[Path, str] | None:
        """A job's uploaded file and its name (with the extension of its real format)."""
        row = self.store.job(job_id, session)
        if row is None:
            return None
        name = (Path(row["input_name"]).stem or "image") + Path(row["input_file"]).suffix
        return self.settings.jobs / job_id / row["input_file"], name

    def cancel(self, job_id: str, session: str) -> bool:
        """Cancel a session's job and delete its files; False when there is no such job."""
        if self.store.cancel(job_id, session, self.clock()) is None:
            return False
        shutil.rmtree(self.settings.jobs / job_id, ignore_errors=True)
        return True

    def sweep(self) -> int:
        """Delete the jobs finished more than ``--retention-hours`` ago (their run
        records stay), and files no job owns; returns how many jobs went."""
        cutoff = self.clock() - self.settings.retention_hours * 3600
        expired = self.store.expire(cutoff)
        for job_id in expired:
            shutil.rmtree(self.settings.jobs / job_id, ignore_errors=True)
        known = self.store.job_ids()
        for folder in _entries(self.settings.jobs):
            if folder.name not in known and _older(folder, cutoff):
                shutil.rmtree(folder, ignore_errors=True)
        for part in _entries(self.settings.uploads):
            if _older(part, cutoff):
                part.unlink(missing_ok=True)
        if expired:
            logger.info("%d expired jobs deleted", len(expired))
        return len(expired)


def describe(row: Mapping[str, Any]) -> dict[str, Any]:
    """A job row as the API's status object."""
    done = row["status"] == SUCCEEDED
    outputs = json.loads(row["outputs"]).get("names", []) if done else []
    created = datetime.datetime.fromtimestamp(row["created"], datetime.UTC)
    return {
        "id": row["id"],
        "pipeline": row["pipeline"],
        "status": row["status"],
        "progress": 1.0 if done else round(float(row["progress"]), 4),
        "queue_position": row["queue_position"],
        "stage": row["stage"],
        "error": row["error"],
        "input_name": row["input_name"],
        "created": created.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "outputs": outputs,
        "width": row["width"],
        "height": row["height"],
        "max_megapixels": row["max_megapixels"],
    }


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []


def _older(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:
        return False
