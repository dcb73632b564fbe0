"""Benchmarking restoration methods: PSNR/SSIM per image and on average, speed, reports.

``evaluate`` runs every method on every (name, degraded, clean) pair and
measures its output (and the degraded input itself, as method ``"input"``)
with ``restore.lab.metrics``. The ``Report`` it returns prints as a rich table and
writes CSV and JSON; ``contact_sheet`` writes side-by-side crops to look at.
Pairs come from a clean folder and a degradation recipe (``pairs_from_recipe``)
or from two folders of matching files (``pairs_from_folders``).
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from rich.table import Table

from restore.api.errors import RestoreError
from restore.app.runner import discover
from restore.io.images import read_image, write_image
from restore.lab.degrade import Recipe, file_seed, load_recipe
from restore.lab.metrics import describe_convention, psnr, ssim

Method = Callable[[np.ndarray], np.ndarray]
Pair = tuple[str, np.ndarray, np.ndarray]
INPUT = "input"
REFERENCE = "reference"
LABEL_HEIGHT = 16  # contact sheet: band above the columns with their labels
CAPTION_HEIGHT = 14  # contact sheet: band under each row with PSNRs and the image name
GAP = 2  # contact sheet: pixels between columns


@dataclass
class Row:
    """One method on one image; ``seconds`` is 0 for the input."""

    image: str
    method: str
    psnr: float
    ssim: float
    seconds: float
    megapixels: float


@dataclass
class Report:
    """Rows of an evaluation and the convention they were measured with."""

    rows: list[Row] = field(default_factory=list)
    convention: str = ""

    def methods(self) -> list[str]:
        """Method names in the order they first appear."""
        return list(dict.fromkeys(row.method for row in self.rows))

    def means(self) -> dict[str, tuple[float, float, float | None]]:
        """Per method: mean PSNR, mean SSIM, megapixels per second (None when untimed).

        PSNR and SSIM are averaged over images (the benchmark convention); speed
        is total megapixels over total seconds. A mean PSNR is inf if any is.
        """
        means: dict[str, tuple[float, float, float | None]] = {}
        for method in self.methods():
            rows = [row for row in self.rows if row.method == method]
            seconds = sum(row.seconds for row in rows)
            megapixels = sum(row.megapixels for row in rows)
            means[method] = (
                float(np.mean([row.psnr for row in rows])),
                float(np.mean([row.ssim for row in rows])),
                megapixels / seconds if seconds > 0 else None,
            )
        return means

    def to_csv(self, path: str | Path) -> Path:
        """One line per row: image, method, psnr, ssim, seconds, megapixels (inf as ``inf``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["image", "method", "psnr", "ssim", "seconds", "megapixels"])
            for row in self.rows:
                numbers = (row.psnr, row.ssim, row.seconds, row.megapixels)
                writer.writerow([row.image, row.method, *(f"{n:.6g}" for n in numbers)])
        return path

    def to_json(self, path: str | Path) -> Path:
        """``{"convention", "means": {method: {psnr, ssim, mp_per_s}}, "rows": [...]}``.

        Strict JSON: an infinite PSNR (identical images) is written as null.
        """
        means = {
            method: {"psnr": _finite(p), "ssim": s, "mp_per_s": speed}
            for method, (p, s, speed) in self.means().items()
        }
        rows = [{**asdict(row), "psnr": _finite(row.psnr)} for row in self.rows]
        document = {"convention": self.convention, "means": means, "rows": rows}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2, allow_nan=False) + "\n")
        return path

    def table(self) -> Table:
        """Methods as rows; mean PSNR, mean SSIM and MP/s as columns."""
        images = len({row.image for row in self.rows})
        table = Table(title=f"mean over {images} image{'s' * (images != 1)}")
        table.add_column("method")
        for column in ("PSNR (dB)", "SSIM", "MP/s"):
            table.add_column(column, justify="right")
        for method, (p, s, speed) in self.means().items():
            table.add_row(method, f"{p:.2f}", f"{s:.4f}", "-" if speed is None else f"{speed:.3g}")
        return table


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def evaluate(
    methods: Mapping[str, Method],
    pairs: Iterable[Pair],
    *,
    convention: str = "rgb",
    border: int = 0,
    on_image: Callable[[str, dict[str, np.ndarray], list[Row]], None] | None = None,
) -> Report:
    """Run every method on every (name, degraded, clean) pair and measure it.

    Each method gets the degraded image and is timed with ``time.perf_counter``.
    The degraded input is measured too, as method ``"input"`` (left out when its
    size differs from the clean image's, e.g. after downscaling). ``on_image``,
    if given, is called after each image with its name, the images
    (``"input"``, each method, ``"reference"``) and its rows, e.g. to keep crops
    for a contact sheet without holding every output in memory.
    """
    if INPUT in methods or REFERENCE in methods:
        raise ValueError(f"{INPUT!r} and {REFERENCE!r} are reserved method names")
    report = Report(convention=describe_convention(convention, border))
    for name, degraded, clean in pairs:
        megapixels = clean.shape[0] * clean.shape[1] / 1e6
        images = {INPUT: degraded}
        rows = []
        if degraded.shape == clean.shape:
            rows.append(_row(name, INPUT, degraded, clean, 0.0, megapixels, convention, border))
        for method, run in methods.items():
            start = time.perf_counter()
            output = run(degraded)
            seconds = time.perf_counter() - start
            images[method] = output
            rows.append(_row(name, method, output, clean, seconds, megapixels, convention, border))
        report.rows += rows
        if on_image is not None:
            on_image(name, {**images, REFERENCE: clean}, rows)
    return report


def _row(
    image: str,
    method: str,
    output: np.ndarray,
    clean: np.ndarray,
    seconds: float,
    megapixels: float,
    convention: str,
    border: int,
) -> Row:
    try:
        scores = [f(output, clean, convention=convention, border=border) for f in (psnr, ssim)]
    except ValueError as error:
        raise RestoreError(f"{image}: {method}: {error}") from None
    return Row(image, method, scores[0], scores[1], seconds, megapixels)


def detail_window(reference: np.ndarray, crop: int) -> tuple[int, int]:
    """Top-left corner of the ``crop`` x ``crop`` window of ``reference`` with most gradient energy.

    Squared luma differences summed with an integral image, over windows on a
    grid of stride ``crop // 4``: linear in the pixel count.
    """
    height, width = reference.shape[:2]
    ch, cw = min(crop, height), min(crop, width)
    gray = (
        np.asarray(reference, dtype=np.float32).mean(axis=2) if reference.ndim == 3 else reference
    )
    energy = np.zeros((height, width), np.float64)
    energy[:, 1:] += np.diff(gray, axis=1) ** 2
    energy[1:, :] += np.diff(gray, axis=0) ** 2
    integral = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    stride = max(1, crop // 4)
    tops = np.unique(np.r_[np.arange(0, height - ch + 1, stride), height - ch])
    lefts = np.unique(np.r_[np.arange(0, width - cw + 1, stride), width - cw])
    t, le = tops[:, None], lefts[None, :]
    sums = integral[t + ch, le + cw] - integral[t, le + cw] - integral[t + ch, le] + integral[t, le]
    i, j = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(tops[i]), int(lefts[j])


def centre_window(reference: np.ndarray, crop: int) -> tuple[int, int]:
    """Top-left corner of the centred ``crop`` x ``crop`` window."""
    height, width = reference.shape[:2]
    return max(0, (height - crop) // 2), max(0, (width - crop) // 2)


def crop_panels(
    images: Sequence[tuple[str, np.ndarray]], crop: int, *, window: str = "detail"
) -> list[tuple[str, np.ndarray]]:
    """The same window of each image; the last is the reference that chooses it.

    ``window`` is ``"detail"`` (most gradient energy) or ``"centre"``. Images of
    another size than the reference (e.g. a downscaled input) are resized to it
    first (nearest neighbour). Gray images become RGB.
    """
    reference = images[-1][1]
    height, width = reference.shape[:2]
    choose = {"detail": detail_window, "centre": centre_window}[window]
    top, left = choose(reference, crop)
    cropped = []
    for label, image in images:
        image = image if image.ndim == 3 else image[..., None]
        if image.shape[:2] != (height, width):
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_NEAREST)
            image = image if image.ndim == 3 else image[..., None]
        part = image[top : top + crop, left : left + crop]
        cropped.append((label, np.repeat(part, 3, axis=2) if part.shape[2] == 1 else part[..., :3]))
    return cropped


def contact_sheet(
    path: str | Path,
    panels: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]],
    crop: int = 128,
    *,
    window: str = "detail",
    scores: Mapping[tuple[str, str], float] | None = None,
    convention: str = "rgb",
    border: int = 0,
) -> Path:
    """Write a PNG grid of crops: one row per image, one column per panel.

    ``panels`` is ``[(image name, [(label, image), ...]), ...]`` with the same
    labels in the same order on every row, the reference last (e.g. input, each
    method, reference). Each cell is the same ``crop`` x ``crop`` window (see
    ``crop_panels``) of that row's images. Column labels are drawn on top; under
    every cell but the reference's goes its PSNR: ``scores[(image, label)]`` if
    given (e.g. whole-image values from a Report), else computed on the whole
    image against the reference; under the reference, the image name.
    Size: ``columns * crop + (columns - 1) * GAP`` by
    ``LABEL_HEIGHT + rows * (crop + CAPTION_HEIGHT)``, where ``crop`` shrinks to
    the largest reference's height (width) if every reference is smaller.
    """
    if not panels or not panels[0][1]:
        raise ValueError("a contact sheet needs at least one image and one panel")
    labels = [label for label, _ in panels[0][1]]
    columns = len(labels)
    # cells shrink to the largest reference when every image is smaller than the crop
    cell_h = min(crop, max(images[-1][1].shape[0] for _, images in panels))
    cell_w = min(crop, max(images[-1][1].shape[1] for _, images in panels))
    row_height = cell_h + CAPTION_HEIGHT
    size = (columns * cell_w + (columns - 1) * GAP, LABEL_HEIGHT + len(panels) * row_height)
    sheet = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for c, label in enumerate(labels):
        _text(draw, font, label, c * (cell_w + GAP), 1, cell_w)
    for r, (name, images) in enumerate(panels):
        if [label for label, _ in images] != labels:
            raise ValueError(f"{name}: panels {[lb for lb, _ in images]} differ from {labels}")
        y = LABEL_HEIGHT + r * row_height
        reference = images[-1][1]
        for c, (label, part) in enumerate(crop_panels(images, crop, window=window)):
            x = c * (cell_w + GAP)
            tile = np.clip(np.round(part * 255), 0, 255).astype(np.uint8)
            offset = ((cell_w - tile.shape[1]) // 2, (cell_h - tile.shape[0]) // 2)
            sheet.paste(Image.fromarray(tile, "RGB"), (x + offset[0], y + offset[1]))
            if c == columns - 1:
                caption = name
            else:
                key = (name, label)
                value = (
                    scores[key]
                    if scores is not None and key in scores
                    else psnr(images[c][1], reference, convention=convention, border=border)
                    if images[c][1].shape[:2] == reference.shape[:2]
                    else None
                )
                caption = "" if value is None else f"{value:.2f} dB"
            _text(draw, font, caption, x, y + cell_h + 1, cell_w)
    return write_image(path, np.asarray(sheet, dtype=np.float32) / 255)


def _text(
    draw: ImageDraw.ImageDraw,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    text: str,
    x: int,
    y: int,
    room: int,
) -> None:
    """``text`` centred in ``room`` pixels from ``x``, shortened with "..." to fit."""
    while text and draw.textlength(text, font=font) > room:
        text = text[:-4] + "..." if len(text) > 4 else text[:-1]
    offset = max(0, int(room - draw.textlength(text, font=font)) // 2)
    draw.text((x + offset, y), text, fill=(0, 0, 0), font=font)


def pairs_from_recipe(
    clean_dir: str | Path,
    recipe: str | Path | Recipe,
    seed: int = 0,
    data: str | Path | None = None,
) -> Iterator[Pair]:
    """(relative path, degraded, clean) for every image under ``clean_dir``.

    Each image is degraded with ``recipe`` (a built-in name, a .yaml file or a
    Recipe) and the per-file seed of ``restore degrade`` (``file_seed``), so the
    inputs equal the files ``restore degrade RECIPE clean_dir --seed SEED``
    writes (up to their 8-bit PNG rounding). The recipe and folder are checked
    at once (RestoreError); images are read lazily.
    """
    chosen = recipe if isinstance(recipe, Recipe) else load_recipe(recipe, data)
    files = discover(Path(clean_dir))
    if not files:
        raise RestoreError(f"{clean_dir}: no image files found")

    def generate() -> Iterator[Pair]:
        for item in files:
            path, relative = item.path, item.relative
            clean = read_image(path).pixels
            degraded = chosen.apply(clean, file_seed(seed, relative)).image
            yield relative.as_posix(), degraded, clean

    return generate()


def pairs_from_folders(degraded_dir: str | Path, clean_dir: str | Path) -> Iterator[Pair]:
    """(relative path, degraded, clean) for files matched by relative path without suffix.

    ``<stem>.mask.png`` files beside a degraded ``<stem>`` (as ``restore degrade``
    writes) are ignored. A file without a partner, or two files with the same
    relative stem, is a one-line RestoreError, raised at once; images are read
    lazily.
    """
    degraded = _by_stem(Path(degraded_dir))
    clean = _by_stem(Path(clean_dir))
    degraded = {
        key: value
        for key, value in degraded.items()
        if not (key.endswith(".mask") and key.removesuffix(".mask") in degraded)
    }
    for folder, files, other in ((degraded_dir, degraded, clean), (clean_dir, clean, degraded)):
        missing = [files[key][1].as_posix() for key in files if key not in other]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            partner = clean_dir if folder == degraded_dir else degraded_dir
            raise RestoreError(f"{Path(folder) / missing[0]}: no matching file in {partner}{more}")

    def generate() -> Iterator[Pair]:
        for key in sorted(clean):
            yield (
                clean[key][1].as_posix(),
                read_image(degraded[key][0]).pixels,
                read_image(clean[key][0]).pixels,
            )

    return generate()


def _by_stem(folder: Path) -> dict[str, tuple[Path, Path]]:
    if not folder.is_dir():
        raise RestoreError(f"{folder}: not a folder")
    found: dict[str, tuple[Path, Path]] = {}
    for item in discover(folder):
        path, relative = item.path, item.relative
        key = relative.with_suffix("").as_posix()
        if key in found:
            raise RestoreError(
                f"{folder}: {found[key][1].as_posix()} and {relative.as_posix()} have the same stem"
            )
        found[key] = (path, relative)
    if not found:
        raise RestoreError(f"{folder}: no image files found")
    return found
