"""Exceptions with one-line messages that name the file or node and the problem."""

from __future__ import annotations

from pathlib import Path


class RestoreError(Exception):
    """Base of every error restore raises on purpose."""


class ImageReadError(RestoreError):
    """An input file could not be read as an image."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class ImageWriteError(RestoreError):
    """An output file could not be written."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class PipelineError(RestoreError):
    """A pipeline definition is invalid; ``problems`` lists every one found."""

    def __init__(self, problems: list[str], source: str | Path | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "; ".join(problems))


class StageUnavailable(RestoreError):
    """A stage cannot run here (missing weights, missing optional dependency)."""


class Cancelled(RestoreError):
    """Work was cancelled through a CancelToken."""


class MetadataWarning(UserWarning):
    """Something of the source (alpha, EXIF, frames) an output could not keep."""
