"""One shared instance of each stage per device, created on first use."""

from __future__ import annotations

import threading

import torch

from restore.api.stage import Stage


class InstancePool:
    """Stage instances by (stage class, device); safe to use from many threads."""

    def __init__(self) -> None:
        self._instances: dict[tuple[type[Stage], str], Stage] = {}
        self._lock = threading.Lock()

    def __call__(self, stage: type[Stage], device: torch.device) -> Stage:
        """The one instance of ``stage`` for ``device``."""
        key = (stage, str(device))
        with self._lock:
            if key not in self._instances:
                self._instances[key] = stage(device)
            return self._instances[key]
