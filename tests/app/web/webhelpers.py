"""Helpers of the web service tests: settings of a test server, images, requests."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from restore.app.web.settings import Settings
from restore.testing import synthetic_photo

TERMINAL = ("succeeded", "failed", "canceled")


def settings_for(data: Path, pipelines: Path, **changes: Any) -> Settings:
    """Settings of a test server: small limits, small tiles, one worker."""
    values: dict[str, Any] = {
        "data": data,
        "pipelines": pipelines,
        "workers": 1,
        "max_upload_bytes": 2 << 20,
        "max_pixels": 1_000_000,
        "tile": 16,
        "overlap": 4,
        "batch_size": 1,
        "static": data / "no-static",
    }
    values.update(changes)
    return Settings(**values)


def png(height: int = 64, width: int = 64, seed: int = 0) -> bytes:
    """A synthetic photo as PNG bytes."""
    pixels = (synthetic_photo(height, width, seed=seed) * 255).round().astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def submit(
    client: Any, pipeline: str = "restore", *, data: bytes | None = None, **form: Any
) -> Any:
    """POST an image to /api/jobs."""
    files = {"file": (form.pop("filename", "photo.png"), data if data is not None else png())}
    return client.post("/api/jobs", data={"pipeline": pipeline, **form}, files=files)


def wait(client: Any, job_id: str, until: tuple[str, ...] = TERMINAL, timeout: float = 60) -> dict:
    """Poll a job until its status is in ``until``."""
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(f"/api/jobs/{job_id}").json()
        if status["status"] in until or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def decoded(data: bytes) -> np.ndarray:
    """Image bytes as an array."""
    return np.asarray(Image.open(io.BytesIO(data)))
