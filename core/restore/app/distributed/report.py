"""The run report of a distributed batch: ``OUT/restore-report.jsonl``.

One JSON line per input per run, appended as results arrive, so a report is
never replaced: a rerun (``--skip-existing``) adds its own lines under a new
``run`` id, and a line cut short by a crash is skipped on reading. Each line
holds the input, its status, seconds, the worker that ran it, the error (empty
when none), the files written and the notes; the CLI summary is read back from
it.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from restore.app.runner import FileOutcome

REPORT_NAME = "restore-report.jsonl"
DRIVER = "driver"  # the worker named for outcomes decided without running (outputs exist)


def outcome_record(outcome: FileOutcome, worker: str) -> dict[str, Any]:
    """``outcome`` as plain JSON values, with the ``worker`` that produced it."""
    return {
        "input": str(outcome.source),
        "status": outcome.status,
        "seconds": round(outcome.seconds, 3),
        "worker": worker,
        "error": outcome.message if outcome.status == "failed" else "",
        "message": outcome.message,
        "written": [str(path) for path in outcome.written],
        "stage_seconds": outcome.stage_seconds,
        "notes": outcome.notes,
    }


def outcome_from_record(record: dict[str, Any]) -> FileOutcome:
    """The ``FileOutcome`` a report line (or a worker's result row) describes."""
    return FileOutcome(
        Path(record["input"]),
        record["status"],
        float(record["seconds"]),
        record["message"],
        [Path(path) for path in record["written"]],
        dict(record["stage_seconds"]),
        list(record["notes"]),
    )


class Report:
    """Appends one run's lines to ``out_dir / REPORT_NAME``; use as a context manager."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / REPORT_NAME
        self.run = f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
        self._file: IO[str] | None = None

    def __enter__(self) -> Report:
        if self.path.is_symlink() or (self.path.exists() and not self.path.is_file()):
            raise OSError(f"{self.path}: the report must be a plain file")
        self._file = open(self.path, "a", encoding="utf-8")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._file is not None:
            self._file.close()

    def add(self, record: dict[str, Any]) -> None:
        """Append one input's line (flushed to disk: a crash keeps what came before)."""
        assert self._file is not None, "use Report as a context manager"
        line = {"run": self.run, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **record}
        self._file.write(json.dumps(line, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())


def read_report(path: Path, run: str | None = None) -> list[dict[str, Any]]:
    """The lines of a report (only ``run``'s when given); unreadable lines are skipped."""
    records = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by a crash
                continue
            if isinstance(record, dict) and (run is None or record.get("run") == run):
                records.append(record)
    return records
