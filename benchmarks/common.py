"""What several benchmark scripts share: held-out photos, classic test photos, centre
crops, timing, tables.

The scripts import it as ``common``: ``python benchmarks/X.py`` puts this folder
first on ``sys.path``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from skimage import data

from restore.io.files import discover
from restore.lab.training import held_out


def held_out_files(
    root: Path, folders: Iterable[str], percent: int, limit: int
) -> list[tuple[str, Path]]:
    """The first ``limit`` files of the validation split (``held_out(relative, percent)``,
    never trained on) of the training ``folders`` under ``root``, each with its name
    ``folder/relative`` (what the scripts seed by)."""
    found = [
        (f"{name}/{file.relative.as_posix()}", file.path)
        for name in folders
        for file in discover(root / name)
        if held_out(file.relative, percent)
    ]
    return found[:limit]


CLASSIC = ("astronaut", "camera", "coffee", "chelsea", "rocket")  # bundled with scikit-image


def classic_photos() -> dict[str, np.ndarray]:
    """scikit-image's bundled classic test photos (four colour, the gray camera man),
    which no training here sees: H x W x C float32 in [0, 1], by name."""
    photos = {}
    for name in CLASSIC:
        pixels = getattr(data, name)()
        photos[name] = (pixels if pixels.ndim == 3 else pixels[..., None]).astype(np.float32) / 255
    return photos


def centre(image: np.ndarray, size: int) -> np.ndarray:
    """The centre ``size`` x ``size`` of ``image`` (all of a side shorter than that)."""
    y, x = max(0, (image.shape[0] - size) // 2), max(0, (image.shape[1] - size) // 2)
    return image[y : y + size, x : x + size]


class Timed:
    """Megapixels per second of the calls of one method (sized by its first array)."""

    def __init__(self) -> None:
        self.pixels, self.seconds = 0, 0.0

    def __call__(self, function: Callable[..., np.ndarray], *arrays: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        result = function(*arrays)
        self.seconds += time.perf_counter() - started
        self.pixels += arrays[0].shape[0] * arrays[0].shape[1]
        return result

    @property
    def speed(self) -> float:
        return self.pixels / 1e6 / max(self.seconds, 1e-9)


def table(
    title: str, rows: dict[str, dict[str, float]], *, digits: int = 3, corner: str = "method"
) -> str:
    """Print and return a markdown table of ``rows`` (row -> column -> value), the row
    labels under ``corner``, the values to ``digits`` decimals."""
    columns = list(next(iter(rows.values())))
    lines = [f"{title}:", "", f"| {corner} | " + " | ".join(columns) + " |"]
    lines.append("|---|" + "---:|" * len(columns))
    for row, values in rows.items():
        lines.append(f"| {row} | " + " | ".join(f"{values[c]:.{digits}f}" for c in columns) + " |")
    text = "\n".join(lines)
    print(f"\n{text}")
    return text
