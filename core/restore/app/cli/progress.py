"""Rich progress bars for batch runs: one for images, one for the current stage's tiles."""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from restore.app.cli.terminal import printable, say
from restore.app.runner import BatchObserver, FileOutcome


class RichObserver(BatchObserver):
    """Shows batch progress (files counted up front, time left) on a rich console;
    reports failures as they happen. File and node names are shown literally."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
            transient=True,
        )
        # Shown once the files are counted: never a "0/?" bar.
        self.images = self.progress.add_task("images", total=None, visible=False)
        self.tile_task = self.progress.add_task("tiles", total=None, visible=False)

    def __enter__(self) -> RichObserver:
        self.progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def batch_started(self, total: int) -> None:
        self.progress.update(self.images, total=total, completed=0, visible=True)

    def file_started(self, source: Path, index: int, total: int) -> None:
        name = printable(source.name)
        self.progress.update(self.images, total=total, completed=index, description=name)
        self.progress.reset(self.tile_task, total=None, description="tiles", visible=False)

    def tiles(self, node: str, done: int, total: int) -> None:
        self.progress.update(
            self.tile_task, total=total, completed=done, description=node, visible=True
        )

    def file_finished(self, outcome: FileOutcome) -> None:
        self.progress.advance(self.images)
        if outcome.status == "failed":
            say(("failed: ", "red"), outcome.message, out=self.console)


class RichClusterObserver(RichObserver):
    """Progress of a distributed batch: images done, failed and in flight, images
    per second and time left across the cluster (no per-tile bar: tiles run on
    the workers)."""

    def __init__(self, console: Console, *, enabled: bool = True) -> None:
        super().__init__(console, enabled=enabled)
        self.progress.columns = (
            *self.progress.columns,
            TextColumn("{task.fields[counts]}", markup=False),
            TextColumn("{task.fields[rate]}", markup=False),
        )
        self.progress.update(self.images, description="images", counts="", rate="")
        self.done = self.failed = self.flying = 0
        self.started = time.monotonic()

    def batch_started(self, total: int) -> None:
        self.started = time.monotonic()
        super().batch_started(total)

    def in_flight(self, count: int) -> None:
        self.flying = count
        self._show()

    def file_finished(self, outcome: FileOutcome) -> None:
        self.done += outcome.status != "failed"
        self.failed += outcome.status == "failed"
        super().file_finished(outcome)
        self._show()

    def _show(self) -> None:
        seconds = max(time.monotonic() - self.started, 1e-9)
        counts = f"{self.done} done, {self.failed} failed, {self.flying} in flight"
        rate = f"{(self.done + self.failed) / seconds:.2f} images/s"
        self.progress.update(self.images, counts=counts, rate=rate)
