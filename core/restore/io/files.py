"""Finding input images, their sidecar files, and naming outputs."""

from __future__ import annotations

from pathlib import Path

from restore.api.errors import RestoreError
from restore.api.stage import PortKind
from restore.io.images import SUPPORTED_SUFFIXES

SIDECAR_SUFFIX = ".restore.yaml"


def discover(source: Path, exclude: Path | None = None) -> list[tuple[Path, Path]]:
    """Image files under ``source`` (or ``source`` itself) with their relative paths, sorted.

    Hidden files and anything under ``exclude`` (the output folder) are left out.
    """
    if source.is_file():
        return [(source, Path(source.name))]
    if not source.is_dir():
        raise RestoreError(f"{source}: no such file or folder")
    excluded = exclude.resolve() if exclude else None
    found = []
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if excluded and path.resolve().is_relative_to(excluded):
            continue
        if path.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES:
            found.append((path, relative))
    return found


def sidecar_path(image: Path) -> Path:
    """Per-image parameter overrides for ``image``: ``<stem>.restore.yaml`` beside it."""
    return image.with_name(f"{image.stem}{SIDECAR_SUFFIX}")


def output_path(
    out_dir: Path, relative: Path, suffix: str, kind: PortKind, extension: str | None
) -> Path:
    """Where an output goes: masks as PNG, images as ``extension`` (default: the input's)."""
    chosen = ".png" if kind is PortKind.MASK else (extension or relative.suffix)
    if not chosen.startswith("."):
        chosen = "." + chosen
    return out_dir / relative.parent / f"{relative.stem}{suffix}{chosen.lower()}"
