"""Lazy, thread-safe, once-per-process loading of model weights."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class ModelCache:
    """Builds each keyed object once per process, even under concurrent first use."""

    def __init__(self) -> None:
        self._objects: dict[Hashable, Any] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        """Return the object cached under ``key``, calling ``build()`` the first time only."""
        if key in self._objects:
            return self._objects[key]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._objects:
                self._objects[key] = build()
            return self._objects[key]

    def clear(self) -> None:
        """Forget every cached object (tests, freeing memory)."""
        with self._guard:
            self._objects.clear()
            self._locks.clear()


models = ModelCache()
"""The process-wide cache stages load their weights through."""
