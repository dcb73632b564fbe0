"""The job queue and the run records, in one SQLite file.

One connection per thread (and so per process), WAL mode, a busy timeout:
the server's threads and every worker process use the file at once. Every
statement is short; a claim is one ``UPDATE ... RETURNING``, so no two
workers ever take the same job.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import restore

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED = (
    "queued",
    "running",
    "succeeded",
    "failed",
    "canceled",
)
TERMINAL = (SUCCEEDED, FAILED, CANCELED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    session TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    params TEXT NOT NULL,
    max_megapixels REAL,
    input_name TEXT NOT NULL,
    input_file TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    stage TEXT,
    error TEXT,
    outputs TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL,
    started REAL,
    finished REAL,
    worker INTEGER,
    requeued INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created);
CREATE INDEX IF NOT EXISTS jobs_by_session ON jobs (session, created);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    job TEXT NOT NULL,
    time REAL NOT NULL,
    pipeline TEXT NOT NULL,
    params TEXT NOT NULL,
    max_megapixels REAL,
    input_width INTEGER,
    input_height INTEGER,
    width INTEGER,
    height INTEGER,
    megapixels REAL,
    queue_seconds REAL,
    stage_seconds TEXT NOT NULL,
    total_seconds REAL,
    status TEXT NOT NULL,
    error TEXT,
    restore_version TEXT NOT NULL,
    versions TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_time ON runs (time);
"""

RUN_FIELDS = (
    "id",
    "job",
    "time",
    "pipeline",
    "params",
    "max_megapixels",
    "input_width",
    "input_height",
    "width",
    "height",
    "megapixels",
    "queue_seconds",
    "stage_seconds",
    "total_seconds",
    "status",
    "error",
    "restore_version",
    "versions",
)
_JSON_FIELDS = ("params", "stage_seconds", "versions")


@dataclass(frozen=True)
class NewJob:
    """What an accepted upload becomes."""

    id: str
    session: str
    pipeline: str
    params: Mapping[str, Any]
    max_megapixels: float | None
    input_name: str
    input_file: str
    width: int
    height: int


@dataclass(frozen=True)
class Measured:
    """What a worker measured of a run, for its record."""

    width: int | None = None
    height: int | None = None
    stage_seconds: Mapping[str, float] | None = None
    versions: Mapping[str, Any] | None = None


class Store:
    """The jobs and runs tables; safe to share between the threads of a process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._opened: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._lock = threading.Lock()

    def create(self) -> None:
        """Create the folder, the file and the tables if they are missing."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db.executescript(_SCHEMA)

    @property
    def _db(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
            with self._lock:
                # Threads come and go (the server's threadpool retires idle ones): the
                # connections of those that ended are closed here, not kept until close().
                opened = [(threading.current_thread(), db)]
                ended: list[tuple[threading.Thread, sqlite3.Connection]] = []
                for thread, other in self._opened:
                    (opened if thread.is_alive() else ended).append((thread, other))
                self._opened = opened
            for _, other in ended:
                other.close()
        return db

    def close(self) -> None:
        """Close every connection this store opened (at shutdown)."""
        with self._lock:
            for _, db in self._opened:
                db.close()
            self._opened.clear()
        self._local = threading.local()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock at once (BEGIN IMMEDIATE)."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # ------------------------------------------------------------------ queue

    def add(self, job: NewJob, now: float, limit: int) -> bool:
        """Queue ``job`` unless ``limit`` jobs are queued already (checked atomically)."""
        cursor = self._db.execute(
            "INSERT INTO jobs (id, session, pipeline, params, max_megapixels, input_name,"
            " input_file, width, height, status, created)"
            " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?"
            " WHERE (SELECT COUNT(*) FROM jobs WHERE status = 'queued') < ?",
            (
                job.id,
                job.session,
                job.pipeline,
                json.dumps(job.params),
                job.max_megapixels,
                job.input_name,
                job.input_file,
                job.width,
                job.height,
                now,
                limit,
            ),
        )
        return cursor.rowcount == 1

    def counts(self) -> dict[str, int]:
        """How many jobs are queued and running."""
        rows = self._db.execute(
            "SELECT status, COUNT(*) FROM jobs WHERE status IN ('queued', 'running')"
            " GROUP BY status"
        ).fetchall()
        found = {status: count for status, count in rows}
        return {QUEUED: found.get(QUEUED, 0), RUNNING: found.get(RUNNING, 0)}

    def claim(self, worker: int, now: float) -> dict[str, Any] | None:
        """Take the oldest queued job for ``worker`` (a pid); None when there is none."""
        row = self._db.execute(
            "UPDATE jobs SET status = 'running', started = ?, worker = ?, progress = 0,"
            " stage = NULL WHERE status = 'queued' AND id = (SELECT id FROM jobs"
            " WHERE status = 'queued' ORDER BY created, rowid LIMIT 1) RETURNING *",
            (now, worker),
        ).fetchone()
        return dict(row) if row is not None else None

    def progress(self, job_id: str, fraction: float, stage: str | None) -> str | None:
        """Record a running job's progress; returns its status (None: it is gone)."""
        self._db.execute(
            "UPDATE jobs SET progress = ?, stage = ? WHERE id = ? AND status = 'running'",
            (fraction, stage, job_id),
        )
        return self.status(job_id)

    def status(self, job_id: str) -> str | None:
        """A job's status; None for an unknown job."""
        row = self._db.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row[0] if row is not None else None

    def finish(
        self,
        job_id: str,
        status: str,
        now: float,
        *,
        error: str | None = None,
        outputs: Mapping[str, Any] | None = None,
        measured: Measured | None = None,
    ) -> bool:
        """End a running job and record its run. False when it was no longer running
        (canceled meanwhile): then the run is recorded as canceled."""
        with self._transaction() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None or row["status"] != RUNNING:
                if row is not None and row["status"] == CANCELED:
                    self._record(db, dict(row), CANCELED, None, now, measured or Measured())
                return False
            db.execute(
                "UPDATE jobs SET status = ?, error = ?, outputs = ?, finished = ?,"
                " progress = CASE WHEN ? = 'succeeded' THEN 1 ELSE progress END, stage = NULL"
                " WHERE id = ?",
                (status, error, json.dumps(outputs or {}), now, status, job_id),
            )
            self._record(db, dict(row), status, error, now, measured or Measured())
            return True

    def fail_worker(self, worker: int, reason: str, now: float) -> list[str]:
        """Fail the jobs a dead worker was running; returns their ids."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT * FROM jobs WHERE status = 'running' AND worker = ?", (worker,)
            ).fetchall()
            for row in rows:
                self._fail(db, row, reason, now)
        return [row["id"] for row in rows]

    def recover(self, now: float) -> tuple[int, int]:
        """At startup: jobs a previous server left running are queued again, once;
        the second time they fail. Returns (requeued, failed)."""
        reason = "the server stopped twice while this job was running; not retried"
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM jobs WHERE status = 'running'").fetchall()
            failed = [row for row in rows if row["requeued"]]
            for row in failed:
                self._fail(db, row, reason, now)
            db.execute(
                "UPDATE jobs SET status = 'queued', requeued = requeued + 1, progress = 0,"
                " stage = NULL, started = NULL, worker = NULL"
                " WHERE status = 'running' AND requeued = 0"
            )
        return len(rows) - len(failed), len(failed)

    def cancel(self, job_id: str, session: str | None, now: float) -> dict[str, Any] | None:
        """Mark a job canceled (a running one stops at its next progress report);
        returns the job as it was, or None when there is no such job."""
        with self._transaction() as db:
            row = self._find(db, job_id, session)
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET status = 'canceled', outputs = '{}', stage = NULL,"
                " finished = COALESCE(finished, ?) WHERE id = ?",
                (now, job_id),
            )
            return row

    def expire(self, cutoff: float) -> list[str]:
        """Delete finished jobs older than ``cutoff`` (their runs stay); returns their ids."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT id FROM jobs WHERE status IN ('succeeded', 'failed', 'canceled')"
                " AND COALESCE(finished, created) < ?",
                (cutoff,),
            ).fetchall()
            db.executemany("DELETE FROM jobs WHERE id = ?", [(row[0],) for row in rows])
        return [row[0] for row in rows]

    def job_ids(self) -> set[str]:
        """Every job id (to find folders no job owns)."""
        return {row[0] for row in self._db.execute("SELECT id FROM jobs")}

    # ------------------------------------------------------------------ reading

    def job(self, job_id: str, session: str | None = None) -> dict[str, Any] | None:
        """One job, with its ``queue_position`` (1 = next); ``session`` None: any session's."""
        row = self._find(self._db, job_id, session)
        if row is None:
            return None
        row["queue_position"] = self._position(row)
        return row

    def jobs(self, session: str, limit: int = 50) -> list[dict[str, Any]]:
        """A session's jobs, newest first."""
        rows = self._db.execute(
            "SELECT rowid AS seq, * FROM jobs WHERE session = ?"
            " ORDER BY created DESC, rowid DESC LIMIT ?",
            (session, limit),
        ).fetchall()
        found = [dict(row) for row in rows]
        for row in found:
            row["queue_position"] = self._position(row)
        return found

    def runs(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Run records, oldest first (the newest ``limit`` when given)."""
        query = f"SELECT {', '.join(RUN_FIELDS)} FROM runs ORDER BY time DESC, id DESC"
        rows = self._db.execute(query + (" LIMIT ?" if limit else ""), (limit,) if limit else ())
        records = [dict(row) for row in rows.fetchall()][::-1]
        for record in records:
            for field in _JSON_FIELDS:
                record[field] = json.loads(record[field])
        return records

    def mean_seconds(self, last: int = 20) -> float | None:
        """Mean total seconds of the last ``last`` successful runs; None without any."""
        row = self._db.execute(
            "SELECT AVG(total_seconds) FROM (SELECT total_seconds FROM runs"
            " WHERE status = 'succeeded' ORDER BY time DESC LIMIT ?)",
            (last,),
        ).fetchone()
        return float(row[0]) if row[0] is not None else None

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _find(db: sqlite3.Connection, job_id: str, session: str | None) -> dict[str, Any] | None:
        row = db.execute("SELECT rowid AS seq, * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None or (session is not None and row["session"] != session):
            return None
        return dict(row)

    def _position(self, row: Mapping[str, Any]) -> int | None:
        if row["status"] != QUEUED:
            return None
        (ahead,) = self._db.execute(
            "SELECT COUNT(*) FROM jobs WHERE status = 'queued'"
            " AND (created < ? OR (created = ? AND rowid < ?))",
            (row["created"], row["created"], row["seq"]),
        ).fetchone()
        return int(ahead) + 1

    def _fail(self, db: sqlite3.Connection, row: sqlite3.Row, reason: str, now: float) -> None:
        """Mark the running job ``row`` failed for ``reason`` and record its run."""
        db.execute(
            "UPDATE jobs SET status = 'failed', error = ?, finished = ?, stage = NULL WHERE id = ?",
            (reason, now, row["id"]),
        )
        self._record(db, dict(row), FAILED, reason, now, Measured())

    @staticmethod
    def _record(
        db: sqlite3.Connection,
        job: Mapping[str, Any],
        status: str,
        error: str | None,
        now: float,
        measured: Measured,
    ) -> None:
        """Insert the run record of ``job``, which ended now with ``status``. Records are
        shared by every session (``/api/runs``, ``/stats``): an error names no upload."""
        started = job["started"]
        if error and job["input_name"]:
            error = error.replace(job["input_name"], "the photo")
        width = measured.width or job["width"]
        height = measured.height or job["height"]
        db.execute(
            "INSERT INTO runs (job, time, pipeline, params, max_megapixels, input_width,"
            " input_height, width, height, megapixels, queue_seconds, stage_seconds,"
            " total_seconds, status, error, restore_version, versions)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job["id"],
                now,
                job["pipeline"],
                job["params"],
                job["max_megapixels"],
                job["width"],
                job["height"],
                width,
                height,
                width * height / 1e6,
                started - job["created"] if started is not None else None,
                json.dumps(dict(measured.stage_seconds or {})),
                now - started if started is not None else None,
                status,
                error,
                restore.__version__,
                json.dumps(dict(measured.versions or {})),
            ),
        )
