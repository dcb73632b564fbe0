"""The server's watch over its worker processes: started with the spawn method,
restarted when one dies, and its job (if it had one) failed with the reason."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.context import SpawnProcess

from restore.app.web.settings import Settings
from restore.app.web.store import Store
from restore.app.web.worker import serve_jobs

logger = logging.getLogger(__name__)

WATCH_SECONDS = 0.5
QUICK_DEATH_SECONDS = 10.0  # a worker dying sooner than this is restarted ever later
MAX_DELAY_SECONDS = 30.0
STOP_SECONDS = 10.0  # how long a stopping worker may take to finish its job


class Supervisor:
    """Keeps ``settings.workers`` worker processes running."""

    def __init__(self, settings: Settings, store: Store, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self._context = multiprocessing.get_context("spawn")
        self._stop = self._context.Event()
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[SpawnProcess | None] = [None] * settings.workers
        self._started = [0.0] * settings.workers  # when each slot's worker started
        self._next = [0.0] * settings.workers  # when an empty slot gets its next worker
        self._quick = [0] * settings.workers  # quick deaths in a row, per slot
        self._thread = threading.Thread(target=self._watch, name="restore-supervisor", daemon=True)

    @property
    def alive(self) -> int:
        """How many worker processes are running now."""
        with self._lock:
            return sum(p is not None and p.is_alive() for p in self._workers)

    def start(self) -> None:
        """Start the workers and the thread that watches them."""
        with self._lock:
            for slot in range(self.settings.workers):
                self._spawn(slot)
        self._thread.start()

    def stop(self) -> None:
        """Ask the workers to stop after their current job, then end those that do not."""
        self._halt.set()
        if self._thread.is_alive():
            self._thread.join()
        self._stop.set()
        with self._lock:
            running = [p for p in self._workers if p is not None]
            self._workers = [None] * self.settings.workers
        deadline = time.monotonic() + STOP_SECONDS
        for process in running:
            process.join(max(0.1, deadline - time.monotonic()))
        for process in running:
            if process.is_alive():
                logger.warning("worker %s did not stop in time: ended", process.pid)
                process.terminate()
                process.join(2)
            if process.is_alive():
                process.kill()
                process.join()
            process.close()

    def _spawn(self, slot: int) -> None:
        process = self._context.Process(
            target=serve_jobs, args=(self.settings, self._stop), name=f"restore-worker-{slot}"
        )
        # Started with SIGINT blocked (and so blocked in the child from its first
        # instruction on): a Ctrl-C in the terminal reaches the server, not its workers.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        self._workers[slot] = process
        self._started[slot] = time.monotonic()

    def _watch(self) -> None:
        """Every ``WATCH_SECONDS``: fail the job of a worker that died, start another.
        What fails (the database locked or full, no process to be had) is logged and
        tried again the next time: this thread never ends before ``stop``."""
        while not self._halt.wait(WATCH_SECONDS):
            for slot in range(self.settings.workers):
                try:
                    self._tend(slot)
                except Exception:
                    logger.exception("worker slot %d: trying again", slot)

    def _tend(self, slot: int) -> None:
        with self._lock:
            process = self._workers[slot]
            if process is not None and process.is_alive():
                return
        if process is not None:
            self._bury(slot, process)  # a dead worker stays in its slot until buried
        with self._lock:
            if self._workers[slot] is None and time.monotonic() >= self._next[slot]:
                self._spawn(slot)

    def _bury(self, slot: int, process: SpawnProcess) -> None:
        """Fail what a dead worker was running and decide when its successor starts:
        at once, or ever later (up to ``MAX_DELAY_SECONDS``) while workers die young."""
        code = process.exitcode
        reason = f"the worker stopped unexpectedly (exit code {code})"
        assert process.pid is not None
        for job_id in self.store.fail_worker(process.pid, reason, self.clock()):
            logger.error("job %s failed: %s", job_id, reason)
        logger.error("worker %s stopped (exit code %s): starting another", process.pid, code)
        with self._lock:
            self._workers[slot] = None
        process.close()
        young = time.monotonic() - self._started[slot] < QUICK_DEATH_SECONDS
        self._quick[slot] = self._quick[slot] + 1 if young else 0
        delay = 0.0 if self._quick[slot] <= 1 else 2.0 ** (self._quick[slot] - 1)
        self._next[slot] = time.monotonic() + min(MAX_DELAY_SECONDS, delay)
