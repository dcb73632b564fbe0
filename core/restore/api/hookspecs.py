"""The hook specification a restore plugin implements (pluggy, project name ``restore``).

A plugin is a module (or object) registered under the entry-point group
``restore.plugins``; it implements hooks by decorating functions with
``restore.api.hookimpl``. A function marked as a hook whose name is not specified
here makes the plugin fail to load.

Each hook is called only by the part of restore that needs it: stages when a
pipeline is loaded, training recipes by ``restore train``, commands when the CLI
starts. Import what a hook contributes inside the hook's body, so that running
a pipeline never loads training code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # the stage contract loads torch: the CLI reads these specs without it
    from restore.api.stage import Stage

PROJECT = "restore"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

RegisterStage = Callable[[type["Stage[Any]"]], None]
RegisterTraining = Callable[[Any], None]
"""Takes one ``restore.lab.training.TrainingRecipe``."""


@hookspec
def register_stages(register: RegisterStage) -> None:
    """Contribute stages: call ``register(StageClass)`` once per stage class."""


@hookspec
def register_training(register: RegisterTraining) -> None:
    """Contribute training recipes: call ``register(TrainingRecipe(...))`` once per recipe.

    Called only by ``restore train`` and the lab; import the recipes inside the hook.
    """


@hookspec
def register_commands(app: Any) -> None:
    """Add sub-commands to the ``restore`` CLI (``app`` is its ``typer.Typer``).

    Implemented by modules of the entry-point group ``restore.commands``, loaded
    when the CLI starts; keep their imports light and import the work inside
    each command.
    """
