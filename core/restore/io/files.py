"""Finding input images and their sidecar files, and naming outputs safely."""

from __future__ import annotations

import errno
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from restore.api.errors import RestoreError
from restore.api.stage import PortKind
from restore.io.images import SUPPORTED_SUFFIXES

SIDECAR_SUFFIX = ".restore.yaml"


@dataclass(frozen=True)
class Found:
    """An input file: its path, its path relative to the input folder, and why it
    cannot be read when that is known without opening it (broken or looping link)."""

    path: Path
    relative: Path
    problem: str | None = None


def discover(source: Path, exclude: Path | None = None) -> list[Found]:
    """Image files under ``source`` (or ``source`` itself), sorted by relative path.

    Hidden entries and anything under ``exclude`` (the output folder) are left
    out. Symbolic links to folders are followed, each folder at most once, so a
    link loop ends the walk there; a broken or looping link with an image
    suffix is returned with its ``problem``. Unlistable folders come back as
    problems too, so that a batch reports them and goes on.
    """
    if source.is_file():
        return [Found(source, Path(source.name))]
    if not source.is_dir():
        raise RestoreError(f"{source}: no such file or folder")
    excluded = os.path.realpath(exclude) if exclude else None
    found: list[Found] = []
    visited: set[tuple[int, int]] = set()

    def walk(folder: Path, relative: Path) -> None:
        try:
            info = folder.stat()
            if (info.st_dev, info.st_ino) in visited:
                return
            visited.add((info.st_dev, info.st_ino))
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as error:
            found.append(Found(folder, relative, f"cannot list folder ({error.strerror})"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path, inner = folder / entry.name, relative / entry.name
            if _is_folder(entry):
                if excluded is None or os.path.realpath(path) != excluded:
                    walk(path, inner)
            elif Path(entry.name).suffix.lower() in SUPPORTED_SUFFIXES:
                found.append(Found(path, inner, _link_problem(entry)))

    walk(source, Path())
    return sorted(found, key=lambda item: item.relative.as_posix())


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows links; a looping or broken link is no folder
    except OSError:
        return False


def _link_problem(entry: os.DirEntry[str]) -> str | None:
    """Why a file entry cannot be opened as a file, if it is a bad link or no file."""
    try:
        if entry.is_file():
            return None
        os.stat(entry.path)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "symbolic link loop"
        if error.errno == errno.ENOENT:
            return "broken symbolic link"
        return f"cannot open ({error.strerror})"
    return "not a regular file"


def sidecar_path(image: Path) -> Path:
    """Per-image parameter overrides for ``image``: ``<stem>.restore.yaml`` beside it."""
    return image.with_name(f"{image.stem}{SIDECAR_SUFFIX}")


def output_extension(name: str) -> str:
    """A ``--format`` value (``png``, ``.PNG``, ``tif`` ...) as a lower-case suffix
    (``.png``); anything that is not a known image format is a RestoreError."""
    suffix = "." + name.strip().lower().removeprefix(".")
    if suffix not in SUPPORTED_SUFFIXES:
        known = ", ".join(sorted(s.removeprefix(".") for s in SUPPORTED_SUFFIXES))
        raise RestoreError(f"--format {name!r}: not an image format (use {known})")
    return suffix


def output_path(
    out_dir: Path, relative: Path, suffix: str, kind: PortKind, extension: str | None
) -> Path:
    """Where an output goes: ``out_dir/<relative folder>/<stem><suffix><ext>``, masks
    as PNG, images as ``extension`` (a suffix from ``output_extension``; default:
    the input's). ``relative`` comes from ``discover`` and ``suffix`` from a
    validated pipeline, so no part can climb out of ``out_dir``; this is checked."""
    chosen = ".png" if kind is PortKind.MASK else (extension or relative.suffix.lower())
    parts = relative.parent.parts
    if relative.is_absolute() or ".." in parts or any(sep in suffix for sep in "/\\"):
        raise RestoreError(f"{relative}: output name would leave the output folder")
    return out_dir.joinpath(*parts, f"{relative.stem}{suffix}{chosen}")


def name_key(path: Path) -> str:
    """A path as file systems may compare it: case-folded and NFC-normalised, so
    ``a.PNG`` and ``a.png`` (or composed and decomposed accents) count as one name."""
    return unicodedata.normalize("NFC", path.as_posix()).casefold()


def inside(path: Path, folder: Path) -> bool:
    """Whether ``path``, with every symbolic link resolved, lies inside ``folder``."""
    return Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))
