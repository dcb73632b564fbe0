"""The console the CLI reports on (stderr) and its one-line message printer."""

from __future__ import annotations

from rich.console import Console

console = Console(stderr=True)


def say(message: str, out: Console = console) -> None:
    """Print a one-line message: never wrapped (paths stay whole), never auto-highlighted."""
    out.print(message, highlight=False, soft_wrap=True)
