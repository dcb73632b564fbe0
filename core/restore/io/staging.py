"""All-or-nothing writing of one image's outputs into an output folder.

A batch owns a staging folder ``<out>/.restore-partial/<id>/`` holding a lock
(held while the batch lives) and, while an image is being committed, a journal
of its files. Each output is encoded into a hidden temporary file beside its
target, ``.restore-<id>-<n>.tmp``, then hard-linked onto the target, which
fails if something is already there (no check-then-write race). Only when every
output is in place is the journal removed: that is the commit point. A later
batch removes what a dead one left (its lock is free): the outputs of an image
whose journal survives are unlinked again (they are still the same files as
their temporaries), and every temporary goes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from restore.api.errors import ImageWriteError
from restore.io.files import inside

if TYPE_CHECKING:
    from restore.io.images import Encoded

STAGING_FOLDER = ".restore-partial"
_TEMPORARY = re.compile(r"^\.restore-(?P<id>[0-9]+-[0-9a-f]+)(?:-[0-9]+[sb]?)?\.tmp$")
_JOURNAL = "journal.json"
_START_SECONDS = 60  # a folder still being set up after this long belongs to a dead batch
_ATTEMPTS = 5


class Staging:
    """One batch's staging area in ``out_dir``; use as a context manager."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.id = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.folder = out_dir / STAGING_FOLDER / self.id
        self._lock: IO[str] | None = None
        self._count = 0

    def __enter__(self) -> Staging:
        root = self.folder.parent
        # Made under another name and renamed, so a staging folder always has its lock.
        starting = self.folder.with_name(f".{self.id}")
        for attempt in range(_ATTEMPTS):  # another batch may remove an empty root meanwhile
            with contextlib.suppress(FileExistsError):
                root.mkdir()
            _check_root(root)
            try:
                starting.mkdir()
                break
            except FileNotFoundError:
                if attempt == _ATTEMPTS - 1:
                    raise
        self._lock = open(starting / "lock", "w")
        fcntl.flock(self._lock, fcntl.LOCK_EX)  # a cleaner may test it for a moment
        starting.rename(self.folder)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._lock is not None:
            self._lock.close()
        shutil.rmtree(self.folder, ignore_errors=True)
        with contextlib.suppress(OSError):  # other batches may still be using it
            self.folder.parent.rmdir()

    def commit(
        self, files: Sequence[Encoded], *, overwrite: bool = False, protect: Iterable[Path] = ()
    ) -> list[Path]:
        """Write ``files`` so that they all appear, or none does; returns their paths.

        A target that exists is refused (ImageWriteError) unless ``overwrite``;
        a target that is one of ``protect`` (the inputs), or that a symbolic
        link would take outside the output folder, is always refused.
        """
        protected = {Path(os.path.realpath(p)) for p in protect}
        pairs = [(self._temporary(item.path), item) for item in files]
        for _, item in pairs:
            self._check_target(item.path, overwrite, protected)
        self._write_journal([(temporary, item.path) for temporary, item in pairs])
        placed: list[Path] = []
        try:
            for temporary, item in pairs:
                with open(temporary, "xb") as fh:
                    item.encode(fh)
                    fh.flush()
                    os.fsync(fh.fileno())
            for temporary, item in pairs:
                _place(temporary, item.path, overwrite)
                placed.append(item.path)
        except BaseException as error:
            for temporary, item in pairs[: len(placed)]:
                _undo(temporary, item.path)
            _remove(p for temporary, _ in pairs for p in (temporary, _backup(temporary)))
            (self.folder / _JOURNAL).unlink(missing_ok=True)
            if not isinstance(error, OSError):
                raise
            # Name the output, never the hidden temporary the user does not know of.
            targets = {str(temporary): item.path for temporary, item in pairs}
            named = error.filename2 or error.filename
            path = targets.get(str(named), named) or pairs[len(placed)][1].path
            exists = isinstance(error, FileExistsError)
            problem = _EXISTS if exists else f"cannot write ({error.strerror})"
            raise ImageWriteError(path, problem) from None
        (self.folder / _JOURNAL).unlink()  # the commit point
        _remove(p for temporary, _ in pairs for p in (temporary, _backup(temporary)))
        return placed

    def _temporary(self, target: Path) -> Path:
        """A short hidden name beside ``target`` (long names must still fit)."""
        self._count += 1
        return target.with_name(f".restore-{self.id}-{self._count}.tmp")

    def _check_target(self, target: Path, overwrite: bool, protected: set[Path]) -> None:
        try:
            _make_folders(target.parent, self.out_dir)
        except OSError as error:
            raise ImageWriteError(target, f"cannot make its folder ({error.strerror})") from None
        if not os.path.lexists(target):
            return
        if not overwrite:
            raise ImageWriteError(target, _EXISTS)
        if Path(os.path.realpath(target)) in protected:
            raise ImageWriteError(
                target, "refusing to overwrite an input file (or one in the input folder)"
            )
        if not os.path.isfile(target) or os.path.islink(target):
            raise ImageWriteError(target, "exists and is not a regular file")

    def _write_journal(self, pairs: list[tuple[Path, Path]]) -> None:
        journal = self.folder / _JOURNAL
        partial = journal.with_suffix(".partial")
        with open(partial, "w", encoding="utf-8") as fh:
            json.dump([[str(t), str(p)] for t, p in pairs], fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(partial, journal)


_EXISTS = "already exists (a run never replaces a file it did not write: use --overwrite)"


def _place(temporary: Path, target: Path, overwrite: bool) -> None:
    """Make ``target`` the same file as ``temporary``, leaving ``temporary`` in place.

    With ``overwrite`` a file already at ``target`` is kept as ``_backup(temporary)``
    until the commit point, so that an interrupted commit can put it back.
    """
    if not overwrite:
        os.link(temporary, target)  # FileExistsError if anything is there
        return
    if os.path.lexists(target):
        os.link(target, _backup(temporary))
    beside = _variant(temporary, "s")
    os.link(temporary, beside)
    os.replace(beside, target)


def _variant(temporary: Path, letter: str) -> Path:
    return temporary.with_name(temporary.name.removesuffix(".tmp") + f"{letter}.tmp")


def _backup(temporary: Path) -> Path:
    """Where the file a commit replaces waits until the commit point."""
    return _variant(temporary, "b")


def _make_folders(folder: Path, out_dir: Path) -> None:
    """Create ``folder`` inside ``out_dir`` one level at a time, refusing to follow a
    symbolic link out of ``out_dir`` before anything is created beyond it."""
    for level in [*reversed(folder.relative_to(out_dir).parents), folder.relative_to(out_dir)]:
        path = out_dir / level
        with contextlib.suppress(FileExistsError):
            path.mkdir()
        if not inside(path, out_dir):
            raise ImageWriteError(path, "a symbolic link leads outside the output folder")


def _check_root(root: Path) -> None:
    """The staging root must be a plain folder of the output folder, not a link out of it."""
    if root.is_symlink() or not root.is_dir():
        raise ImageWriteError(root, "must be a plain folder (not a symbolic link or a file)")


def _remove(paths: Iterable[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def clean_leftovers(out_dir: Path) -> list[Path]:
    """Undo what dead batches left in ``out_dir``: the outputs of images they were
    committing, their temporary files and their staging folders. Returns the
    removed outputs and temporaries. Live batches (their lock held) are left alone."""
    root = out_dir / STAGING_FOLDER
    if os.path.lexists(root):
        _check_root(root)
    removed: list[Path] = []
    dead = set()
    for folder in root.iterdir() if root.is_dir() else ():
        if folder.name.startswith("."):  # a batch starting now, or one that died starting
            with contextlib.suppress(OSError):
                stale = time.time() - folder.stat().st_mtime > _START_SECONDS
                if stale and _is_dead(folder):
                    shutil.rmtree(folder, ignore_errors=True)
            continue
        if not folder.is_dir() or not _is_dead(folder):
            continue
        dead.add(folder.name)
        journal = folder / _JOURNAL
        if journal.is_file():
            removed += _roll_back(journal, folder.name, out_dir)
        shutil.rmtree(folder, ignore_errors=True)
    live = {folder.name.removeprefix(".") for folder in root.iterdir()} if root.is_dir() else set()
    for path in out_dir.rglob(".restore-*.tmp"):
        match = _TEMPORARY.match(path.name)
        owner = match["id"] if match else ""
        if match and (owner in dead or (owner not in live and not _running(owner))):
            path.unlink(missing_ok=True)
            removed.append(path)
    with contextlib.suppress(OSError):
        root.rmdir()
    return removed


def _is_dead(folder: Path) -> bool:
    """Whether the batch owning a staging folder has ended (its lock can be taken)."""
    try:
        with open(folder / "lock") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as error:
        return error.errno == errno.ENOENT
    return True


def _running(owner: str) -> bool:
    """Whether the process of a ``<pid>-<hex>`` id (a plain ``write_atomically``) runs."""
    try:
        os.kill(int(owner.partition("-")[0]), 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, owned by someone else
        return True
    return True


def _roll_back(journal: Path, owner: str, out_dir: Path) -> list[Path]:
    """Unlink the outputs an interrupted commit had already linked into place.

    Only pairs the batch ``owner`` could have written are trusted: a temporary
    of its own name pattern beside a target inside ``out_dir``, and the target
    still the same file as the temporary.
    """
    try:
        pairs = json.loads(journal.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    removed = []
    for pair in pairs if isinstance(pairs, list) else []:
        if not (
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        ):
            continue
        temporary, target = Path(pair[0]), Path(pair[1])
        match = _TEMPORARY.match(temporary.name)
        if not match or match["id"] != owner or temporary.parent != target.parent:
            continue
        with contextlib.suppress(OSError):
            if inside(target.parent, out_dir) and os.path.samefile(temporary, target):
                _undo(temporary, target)
                removed.append(target)
    return removed


def _undo(temporary: Path, target: Path) -> None:
    """Take a placed output back: unlink it, and put back the file it replaced."""
    target.unlink(missing_ok=True)
    backup = _backup(temporary)
    if os.path.lexists(backup):
        os.replace(backup, target)
