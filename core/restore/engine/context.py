"""The run context: where and how a pipeline runs (device, tiling, precision),
who watches it (progress) and how it is stopped (a cancel token)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from restore.api.errors import Cancelled
from restore.api.stage import PRECISIONS

_CPU = torch.device("cpu")

TileProgress = Callable[[str, int, int], None]
"""(node id, tiles done, tiles total)."""


class CancelToken:
    """A thread-safe flag that asks running work to stop."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop; it raises ``Cancelled`` at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether ``cancel`` has been called."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise ``restore.errors.Cancelled`` if ``cancel`` has been called."""
        if self._event.is_set():
            raise Cancelled("cancelled")


@dataclass(frozen=True)
class TileOptions:
    """How to cut work up and where to run it.

    tile: tile side in input pixels; 0 runs the whole image in one piece.
    overlap: input pixels shared by neighbouring tiles. It is raised to at least
        ``2 * halo + 2`` so that every pixel is covered by some tile with full
        context and a ramp of at least two pixels remains for blending.
    batch_size: tiles per call of ``process``.
    device: where ``process`` runs (a string such as ``"cuda"`` is accepted).
    precision: ``"float32"``, or ``"bfloat16"``/``"float16"`` to run under
        ``torch.autocast`` on the device; outputs are float32 either way.
    """

    tile: int = 512
    overlap: int = 32
    batch_size: int = 4
    device: torch.device = _CPU
    precision: str = "float32"

    def __post_init__(self) -> None:
        object.__setattr__(self, "device", torch.device(self.device))
        if self.tile < 0 or self.overlap < 0 or self.batch_size < 1:
            raise ValueError("tile and overlap must be >= 0 and batch_size >= 1")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {self.precision!r}")


@dataclass(frozen=True)
class RunContext:
    """Everything a run needs besides the plan and the image."""

    options: TileOptions = field(default_factory=TileOptions)
    progress: TileProgress | None = None
    cancel: CancelToken | None = None
    max_pixels: int | None = None
    """No node may make an image with more pixels (an x4 stage makes 16 times its
    input's): it is refused before it runs. None: no limit."""


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``;
    anything else, or CUDA without a GPU, is a one-line ValueError."""
    choice = name.strip().lower()
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cpu":
        return _CPU
    kind, _, index = choice.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise ValueError(f"--device {name!r}: unknown device (use auto, cpu, cuda or cuda:N)")
    if not torch.cuda.is_available():
        raise ValueError(f"--device {name!r}: no CUDA device is available")
    if index and int(index) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise ValueError(f"--device {name!r}: there are only {count} CUDA device(s)")
    return torch.device(choice)
