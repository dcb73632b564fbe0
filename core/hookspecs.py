"""The hook specification a restore plugin implements (pluggy, project name ``restore``).

A plugin is a module (or object) registered under the entry-point group
``restore.plugins``; it implements hooks by decorating functions with
``restore.hookimpl``. A function marked as a hook whose name is not specified
here makes the plugin fail to load.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from restore.stage import Stage

PROJECT = "restore"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

RegisterStage = Callable[[type[Stage]], None]


@hookspec
def register_stages(register: RegisterStage) -> None:
    """Contribute stages: call ``register(StageClass)`` once per stage class."""
