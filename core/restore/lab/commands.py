"""The lab's sub-commands of ``restore``: ``degrade``, ``eval`` and ``train``.

Registered through the ``register_commands`` hook (entry-point group
``restore.commands``), the way a third-party package adds its own; the command
modules import their work inside each command, so ``restore --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

from restore.api.hookspecs import hookimpl


@hookimpl
def register_commands(app: Any) -> None:
    """Add ``restore degrade``, ``restore eval`` and ``restore train``."""
    from restore.lab.cli_degrade import degrade
    from restore.lab.cli_eval import eval_
    from restore.lab.cli_train import train

    app.command()(degrade)
    app.command("eval")(eval_)
    app.command()(train)
