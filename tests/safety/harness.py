"""Running the restore CLI in-process and the checks every safety test shares."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import threading
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from click.testing import Result
from typer.testing import CliRunner

from restore.app.cli.main import app

RUNNER = CliRunner()
SUMMARY = re.compile(r"(\d+) done, (\d+) skipped, (\d+) failed")
TABLE_BORDERS = "│┃║"
_FLATTEN = re.compile(r"[\s│┃║┆┊|─━═┏┓┗┛┡┩└┘┌┐╇╈┳┻╋┼]+")


def invoke(args: Iterable[object]) -> Result:
    return RUNNER.invoke(app, [str(a) for a in args])


def clean_output(result: Result, what: str) -> str:
    """``result``'s output, after checking that the command ended on purpose: no
    exception escaped (CliRunner would hide its traceback) and none was printed."""
    error = result.exception
    if error is not None and not isinstance(error, SystemExit):
        trace = "".join(traceback.format_exception(error))
        raise AssertionError(
            f"{what}: {type(error).__name__} escaped instead of a clean exit "
            f"(exit code {result.exit_code}):\n{trace}\n--- output ---\n{result.output}"
        )
    assert "Traceback" not in result.output, f"{what}: a traceback in the output:\n{result.output}"
    return result.output


class Summary(NamedTuple):
    done: int
    skipped: int
    failed: int


def summary(output: str) -> Summary | None:
    found = SUMMARY.findall(output)
    return Summary(*map(int, found[-1])) if found else None


def flatten(text: str) -> str:
    """``text`` without whitespace and table borders: a name folded over table lines
    reads whole again."""
    return _FLATTEN.sub("", text)


def message_lines(output: str) -> list[str]:
    """Output lines that are not rows of a summary table."""
    return [line for line in output.splitlines() if not any(b in line for b in TABLE_BORDERS)]


def mentions(line: str, tokens: Iterable[str | tuple[str, ...]]) -> bool:
    """Whether ``line`` holds every token (a tuple: any of its words), ignoring case."""
    low = line.lower()
    return all(
        any(t.lower() in low for t in (token if isinstance(token, tuple) else (token,)))
        for token in tokens
    )


def error_line_problems(output: str, names: Iterable[str]) -> list[str]:
    """Problems with the one error line a refused command must print: it exists, it is
    printed once, and it (or the few lines of its box) names one of ``names``."""
    names = tuple(names)
    lines = output.splitlines()
    errors = [i for i, line in enumerate(lines) if "error" in line.lower()]
    if not errors:
        return ["no error line (a line containing 'error')"]
    problems = []
    if len(errors) > 1:
        shown = "\n    ".join(lines[i] for i in errors)
        problems.append(f"the error is printed {len(errors)} times, not once:\n    {shown}")
    near = " ".join(lines[errors[0] : errors[0] + 4])
    if not any(name in near for name in names):
        problems.append(f"the error line names none of {names}: {lines[errors[0]]!r}")
    return problems


class Entry(NamedTuple):
    kind: str  # file, dir, link, other
    data: bytes | str | None  # file bytes (None: unreadable) or link target
    mtime: int | None


def _entry(path: Path) -> Entry:
    info = os.lstat(path)
    if stat.S_ISREG(info.st_mode):
        try:
            data: bytes | None = path.read_bytes()
        except OSError:
            data = None
        return Entry("file", data, info.st_mtime_ns)
    if stat.S_ISLNK(info.st_mode):
        return Entry("link", os.readlink(path), None)
    if stat.S_ISDIR(info.st_mode):
        return Entry("dir", None, None)
    return Entry("other", None, info.st_mtime_ns)  # FIFOs are never opened


def snapshot(top: Path, exclude: Path | None = None) -> dict[str, Entry]:
    """Every entry under ``top`` (symlinks not followed) except the ``exclude`` subtree,
    keyed by relative path; ``top`` itself as ``"."`` when it is not a folder."""
    if not os.path.lexists(top):
        return {}
    if top.is_symlink() or not top.is_dir():
        return {".": _entry(top)}
    skip = os.path.normpath(exclude) if exclude is not None else None
    entries = {}
    for folder, dirs, files in os.walk(top, followlinks=False):
        dirs[:] = [d for d in dirs if os.path.normpath(os.path.join(folder, d)) != skip]
        for name in [*dirs, *files]:
            path = Path(folder, name)
            with contextlib.suppress(FileNotFoundError):
                entries[str(path.relative_to(top))] = _entry(path)
    return entries


def changes(before: dict[str, Entry], after: dict[str, Entry]) -> list[str]:
    """Human-readable differences between two snapshots."""
    found = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if old is None:
            found.append(f"created {key!r} ({new.kind})")  # type: ignore[union-attr]
        elif new is None:
            found.append(f"removed {key!r} ({old.kind})")
        elif old.kind != new.kind:
            found.append(f"{key!r} changed from a {old.kind} to a {new.kind}")
        elif old.data != new.data:
            found.append(f"{key!r}: contents changed")
        else:
            found.append(f"{key!r}: modification time changed")
    return found


def hidden(entries: Iterable[str]) -> list[str]:
    """Entries whose name (or a folder above) is hidden or looks temporary."""
    return sorted(
        key
        for key in entries
        if any(part.startswith(".") and part not in (".", "..") for part in Path(key).parts)
        or ".tmp" in key
        or key.endswith(("~", ".part", ".partial"))
    )


@contextlib.contextmanager
def feeding(fifos: Iterable[Path]) -> Iterator[None]:
    """Give every FIFO a writer that closes at once, so a reader sees an empty file
    instead of hanging; afterwards release the writers nobody read from."""
    threads = []
    for fifo in fifos:

        def feed(path: Path = fifo) -> None:
            with contextlib.suppress(OSError):
                os.close(os.open(path, os.O_WRONLY))

        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        threads.append((fifo, thread))
    try:
        yield
    finally:
        for fifo, thread in threads:
            if thread.is_alive():
                with contextlib.suppress(OSError):
                    os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
            thread.join(timeout=5)
