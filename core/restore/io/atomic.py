"""Atomic file writes: a file appears complete or not at all."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(path: Path, encode: Callable[[BinaryIO], None]) -> None:
    """Run ``encode`` into a temporary file beside ``path``, then move it onto ``path``.

    The temporary, ``.restore-<pid>-<hex>.tmp``, is recognised and removed
    by a later batch (``restore.io.staging.clean_leftovers``) if this process dies.
    """
    temporary = path.with_name(f".restore-{os.getpid()}-{secrets.token_hex(4)}.tmp")
    # Opened outside the try: a name clash must not delete someone else's file.
    fh = open(temporary, "xb")  # noqa: SIM115 - closed by the with block below
    try:
        with fh:
            encode(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
