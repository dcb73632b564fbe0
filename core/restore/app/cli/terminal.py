"""The console the CLI reports on (stderr) and its one-line message printers.

Every user-supplied string (a path, a parameter value, an error message) is
printed literally: messages are assembled from plain text and (text, style)
pairs, never parsed as rich markup, and control characters (terminal escape
codes, carriage returns, newlines in file names) are shown as escapes.
"""

from __future__ import annotations

import unicodedata

from rich.console import Console
from rich.text import Text

console = Console(stderr=True)

_HIDDEN = frozenset({"Cc", "Cf", "Cs"})  # control, format (bidi), undecodable bytes
Part = str | tuple[str, str]
"""Literal text, or (literal text, rich style)."""


def printable(text: str) -> str:
    """``text`` with control and format characters (ESC, CR, bidi overrides ...)
    written as escapes such as ``\\x1b``, so a terminal shows them as they are."""
    return "".join(
        ascii(char)[1:-1] if unicodedata.category(char) in _HIDDEN else char for char in text
    )


def literal(text: str, style: str = "") -> Text:
    """``text`` as rich Text that is shown exactly (see ``printable``)."""
    return Text(printable(text), style=style)


def say(*parts: Part, out: Console = console) -> None:
    """Print one line: never wrapped (paths stay whole), never auto-highlighted."""
    line = Text.assemble(
        *(printable(p) if isinstance(p, str) else (printable(p[0]), p[1]) for p in parts)
    )
    out.print(line, highlight=False, soft_wrap=True)


def error(message: str) -> None:
    """Print ``error: message``."""
    say(("error: ", "red"), message)


def warning(message: str) -> None:
    """Print ``warning: message``."""
    say(("warning: ", "yellow"), message)
