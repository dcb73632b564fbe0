"""The settings of ``restore serve``: one frozen, picklable value shared with the workers."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

STATIC = Path(__file__).parent / "static"
"""The page's files: ``index.html`` at ``/``, the rest under ``/static/``."""

MEGABYTE = 1 << 20
RESULT_STEM = "result"
"""Outputs are ``jobs/<id>/result<suffix>.<ext>``, the upload ``jobs/<id>/input.<ext>``."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is reachable only from this machine."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """How the service runs; ``check`` refuses values that make no sense.

    ``data`` holds everything the service writes: the SQLite database and each
    job's files. ``workers`` 0 accepts jobs without running them (tests).
    ``sweep_seconds`` is how often expired jobs are looked for.
    """

    data: Path = Path("restore-serve-data")
    pipelines: Path = Path("examples/pipelines")
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_upload_bytes: int = 50 * MEGABYTE
    max_pixels: int = 50_000_000
    queue: int = 100
    retention_hours: float = 24.0
    token: str | None = None
    device: str = "auto"
    tile: int = 512
    overlap: int = 32
    batch_size: int = 4
    static: Path = STATIC
    sweep_seconds: float = 60.0

    def check(self) -> None:
        """Raise ValueError (one line) for a setting that cannot work or is unsafe."""
        if not is_loopback(self.host) and not self.token:
            raise ValueError(
                f"--host {self.host}: binding to a non-loopback address needs a token "
                "(--token or RESTORE_TOKEN)"
            )
        if self.token is not None and len(self.token) < 8:
            raise ValueError("--token: use at least 8 characters")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"--port {self.port}: must be 0 to 65535")
        numbers = {
            "--workers": (self.workers, 0),
            "--max-upload-mb": (self.max_upload_bytes, 1),
            "--max-pixels": (self.max_pixels, 1),
            "--queue": (self.queue, 1),
        }
        for flag, (value, least) in numbers.items():
            if value < least:
                raise ValueError(f"{flag} {value}: must be at least {least}")
        if self.retention_hours <= 0:
            raise ValueError(f"--retention-hours {self.retention_hours}: must be positive")
        if self.tile < 0 or self.overlap < 0 or self.batch_size < 1:
            raise ValueError("tile and overlap must be >= 0 and batch size >= 1")
        if not self.pipelines.is_dir():
            raise ValueError(f"--pipelines {self.pipelines}: not a folder")

    @property
    def database(self) -> Path:
        """The SQLite file of the queue and the run records."""
        return self.data / "restore.db"

    @property
    def jobs(self) -> Path:
        """The folder of each job's files (``jobs/<id>/``)."""
        return self.data / "jobs"

    @property
    def uploads(self) -> Path:
        """Where uploads are written while they arrive."""
        return self.data / "uploads"
