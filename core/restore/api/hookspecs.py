"""The hook specification a restore plugin implements (pluggy, project name ``restore``).

A plugin is a module (or object) registered under the entry-point group
``restore.plugins``; it implements hooks by decorating functions with
``restore.hookimpl``. A function marked as a hook whose name is not specified
here makes the plugin fail to load.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

from restore.api.stage import Stage

if TYPE_CHECKING:  # training pulls in torch.nn, I/O and degradations: keep `import restore` light
    from restore.lab.training import TrainingRecipe

PROJECT = "restore"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

RegisterStage = Callable[[type[Stage]], None]
RegisterTraining = Callable[["TrainingRecipe"], None]


@hookspec
def register_stages(register: RegisterStage) -> None:
    """Contribute stages: call ``register(StageClass)`` once per stage class."""


@hookspec
def register_training(register: RegisterTraining) -> None:
    """Contribute training recipes: call ``register(TrainingRecipe(...))`` once per recipe."""
