"""The console the CLI reports on (stderr) and its one-line message printers.

Every user-supplied string (a path, a parameter value, an error message) is
printed literally: messages are assembled from plain text and (text, style)
pairs, never parsed as rich markup.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

console = Console(stderr=True)

Part = str | tuple[str, str]
"""Literal text, or (literal text, rich style)."""


def say(*parts: Part, out: Console = console) -> None:
    """Print one line: never wrapped (paths stay whole), never auto-highlighted."""
    out.print(Text.assemble(*parts), highlight=False, soft_wrap=True)


def error(message: str) -> None:
    """Print ``error: message``."""
    say(("error: ", "red"), message)


def warning(message: str) -> None:
    """Print ``warning: message``."""
    say(("warning: ", "yellow"), message)
