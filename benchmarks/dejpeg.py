"""JPEG artifact removal benchmark: `dejpeg.cnn` and `dejpeg.flexible` against the JPEG
input itself.

Usage: python benchmarks/dejpeg.py [--data ../shared/data] [--limit N]
           [--weights W.safetensors] [--flexible-weights F.safetensors]
           [--sheet sheet.png] [--cards plugins/dejpeg/restore_dejpeg/weights]

Held-out photos: the 5 % of the training folders that training never sees
(`restore.lab.training.held_out`), centre-cropped to 256 x 256; and
scikit-image's classic test photos (`common.CLASSIC`, whole), which no training
saw. Gray: the gray photos and the BT.601 luma of the colour ones, compressed
as one-channel JPEGs (as LIVE1 gray benchmarks are); RGB: the colour photos,
compressed with 4:2:0 chroma. Each at qualities 10, 20, 30, 40, 60 and 80
(OpenCV's libjpeg, the standard IJG tables). For each: the PSNR (8-bit values,
border 0) of the JPEG itself, of `dejpeg.cnn` (strength 1, and 0.5) and of
`dejpeg.flexible` (blind, and given the true quality), each network left out,
with the reason printed, without its weights; and their megapixels per second.
`--sheet` writes, for 4 photos at quality 10 and 30, the JPEG, `dejpeg.cnn`,
`dejpeg.flexible` (blind) and the original, then real JPEGs from the colour photo
collections (no original: JPEG, then the networks). `--cards` writes the tables
into a model card beside each weights manifest in that folder.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from restore_dejpeg.learned import (
    FlexibleDejpeg,
    FlexibleDejpegParams,
    LearnedDejpeg,
    LearnedDejpegParams,
)
from restore_dejpeg.recipes import RECIPES

from restore.api.color import luma
from restore.api.errors import RestoreError
from restore.api.stage import Stage, StageParams
from restore.engine.tiling import TileOptions, run_stage
from restore.io.files import discover
from restore.io.images import read_image, write_image
from restore.lab.data import default_data_root
from restore.lab.degrade import Jpeg
from restore.lab.export import write_model_cards
from restore.lab.metrics import psnr

from common import Timed, centre, classic_photos, held_out_files, table

HOLDOUT = 5  # percent, as in the training recipe
CROP = 256
QUALITIES = (10, 20, 30, 40, 60, 80)
STRENGTHS = (1.0, 0.5)
REAL_JPEGS = "color_photos"  # real compressed photos, looked at only
Method = Callable[[np.ndarray], np.ndarray]
Steered = Callable[[int], Method]  # the JPEG's quality -> the method for it


def gray_and_rgb(photos: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    """Each photo as gray (1-channel: its luma) and, when it has colour, as RGB."""
    sets: dict[str, list[np.ndarray]] = {"gray": [], "RGB": []}
    for pixels in photos:
        colour = pixels.shape[2] == 3 and np.ptp(pixels, axis=2).max() > 1 / 255
        sets["gray"].append(luma(pixels) if pixels.shape[2] == 3 else pixels)
        if colour:
            sets["RGB"].append(pixels)
    return sets


def held_out_sets(root: Path, limit: int) -> dict[str, list[np.ndarray]]:
    """Gray (1-channel) and RGB centre crops of the held-out photos."""
    files = held_out_files(root, RECIPES[0].data, HOLDOUT, limit)
    return gray_and_rgb([centre(read_image(path).pixels, CROP) for _, path in files])


def compressed(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` through JPEG at ``quality`` (gray as a one-channel JPEG)."""
    out, _, _ = Jpeg(quality=quality).run(
        image, np.zeros(image.shape[:2], np.float32), np.random.default_rng(0)
    )
    return out


def mean_psnr(results: list[np.ndarray], photos: list[np.ndarray]) -> float:
    """Mean PSNR of ``results`` against ``photos``, pair by pair."""
    return float(np.mean([psnr(r, p) for r, p in zip(results, photos, strict=True)]))


def quality_rows(
    photos: list[np.ndarray], methods: dict[str, Steered], timers: dict[str, Timed]
) -> dict[str, dict[str, float]]:
    """Per quality: the JPEG's PSNR and each method's (those in ``timers`` timed)."""
    rows: dict[str, dict[str, float]] = {}
    for quality in QUALITIES:
        inputs = [compressed(photo, quality) for photo in photos]
        row = {"JPEG": mean_psnr(inputs, photos)}
        for label, steered in methods.items():
            run = steered(quality)
            timer = timers.get(label)
            outputs = [timer(run, j) if timer else run(j) for j in inputs]
            row[label] = mean_psnr(outputs, photos)
        rows[f"q{quality}"] = row
    return rows


def stage_runner(stage: Stage[Any], params: StageParams) -> Method:
    """``stage`` with ``params`` through the tiler with its default tile size."""
    return lambda image: run_stage(stage, {"image": image}, params, TileOptions())["image"]


def available_methods(
    weights: Path | None, flexible_weights: Path | None, probe: np.ndarray
) -> dict[str, Steered]:
    """By label: quality -> run, for each network that loads (the others left out, with
    the reason printed). ``dejpeg.cnn`` at each strength; ``dejpeg.flexible`` blind (its
    own estimate) and given the true quality."""
    cpu = torch.device("cpu")
    cnn, steered = LearnedDejpeg(cpu), FlexibleDejpeg(cpu)

    def at_strength(strength: float) -> Steered:
        return lambda _: stage_runner(cnn, LearnedDejpegParams(strength=strength, weights=weights))

    candidates: dict[str, dict[str, Steered]] = {
        "dejpeg.cnn": {f"dejpeg.cnn {strength:g}": at_strength(strength) for strength in STRENGTHS},
        "dejpeg.flexible": {
            "dejpeg.flexible": lambda _: stage_runner(
                steered, FlexibleDejpegParams(weights=flexible_weights)
            ),
            "dejpeg.flexible, true quality": lambda quality: stage_runner(
                steered, FlexibleDejpegParams(quality=quality, weights=flexible_weights)
            ),
        },
    }
    methods: dict[str, Steered] = {}
    for name, labelled in candidates.items():
        try:
            next(iter(labelled.values()))(50)(probe[:16, :16])
            methods.update(labelled)
        except RestoreError as error:
            print(f"left out {name}: {error}")
    return methods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_root())
    parser.add_argument("--limit", type=int, default=60, help="held-out photos")
    parser.add_argument("--weights", type=Path, default=None, help="dejpeg.cnn's")
    parser.add_argument("--flexible-weights", type=Path, default=None, help="dejpeg.flexible's")
    parser.add_argument("--sheet", type=Path, default=None, help="contact sheet PNG")
    parser.add_argument(
        "--cards", type=Path, help="write a model card beside each manifest in this folder"
    )
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    sets = held_out_sets(args.data, args.limit)
    if not sets["gray"]:
        raise SystemExit(f"no held-out photos under {args.data}")
    print(f"{len(sets['gray'])} gray and {len(sets['RGB'])} RGB held-out photos, {CROP} px")
    methods = available_methods(args.weights, args.flexible_weights, sets["gray"][0])
    timed: tuple[str, ...] = ("dejpeg.cnn 1", "dejpeg.flexible")
    timers = {label: Timed() for label in timed if label in methods}
    texts = []
    collections = (("held-out", sets), ("classic", gray_and_rgb(list(classic_photos().values()))))
    for title, collection in collections:
        for kind, photos in collection.items():
            if not photos:
                continue
            texts.append(
                table(
                    f"{kind} PSNR, {title} photos (dB, 8-bit, border 0)",
                    quality_rows(photos, methods, timers),
                    corner="quality",
                )
            )
    speed = "; ".join(f"{label}: {timer.speed:.3f} MP/s" for label, timer in timers.items())
    print(f"\n{speed}")
    text = "\n\n".join(texts) + f"\n\n{speed}"
    shown = {label: methods[label](50) for label in timed if label in methods}
    if args.sheet is not None and shown:
        write_sheet(args.sheet, sets, shown, args.data)
        text += f"\n\nContact sheet: `{args.sheet}`"
    if args.cards is not None:
        write_cards(args.cards, text, sets)


def write_sheet(
    path: Path, sets: dict[str, list[np.ndarray]], runs: dict[str, Method], root: Path
) -> None:
    """Rows of JPEG | each network | original at q10 and q30, then real JPEGs | each
    network (blank where the original would be)."""
    rows = []
    for quality in (10, 30):
        for photo in sets["RGB"][:2] + [np.repeat(g, 3, 2) for g in sets["gray"][-2:]]:
            jpeg = compressed(photo, quality)
            rows.append(np.hstack([jpeg, *(run(jpeg) for run in runs.values()), photo]))
    real = [f.path for f in discover(root / REAL_JPEGS)][::997][:4]
    for file in real:
        photo = centre(read_image(file).pixels, CROP)
        photo = np.repeat(photo, 3, 2) if photo.shape[2] == 1 else photo
        if photo.shape[:2] == (CROP, CROP):
            outputs = [run(photo) for run in runs.values()]
            rows.append(np.hstack([photo, *outputs, np.ones_like(photo)]))
    write_image(path, np.clip(np.vstack(rows), 0, 1))
    print(f"contact sheet -> {path}, columns: JPEG, {', '.join(runs)}, original")


LIMITATIONS = """Trained on CPU (see Training for the time) on BSD400,
BSDS and Sun-Hays photos compressed by OpenCV's libjpeg at quality 10-90 (a
quarter twice, on moved grids). `dejpeg.cnn` is blind to the quality and removes a
little too much from good JPEGs (quality 80 and up); `dejpeg.flexible` estimates the
quality at each place (flat places borrow the estimate of their surroundings, 17 px
wide). The held-out photos come from the same collections; photos compressed by
encoders with other quantisation tables (some phones, social sites) differ."""


def write_cards(folder: Path, text: str, sets: dict[str, list[np.ndarray]]) -> None:
    """A model card beside each weights manifest in ``folder``, with these tables."""
    benchmark = (
        f"{len(sets['gray'])} gray and {len(sets['RGB'])} RGB held-out photos (5 % of the "
        f"training folders, never trained on), centre-cropped to {CROP} x {CROP}; MP/s on "
        "this project's 2-core CPU machine (torch threads "
        f"{torch.get_num_threads()}). Measured with:\n\n"
        f"```bash\npython {' '.join(sys.argv)}\n```\n\n{text}"
    )
    write_model_cards(
        folder,
        lambda manifest: (
            "Blind JPEG artifact remover for `dejpeg.cnn`: a residual CNN at half resolution "
            "for quality 10-90, gray and colour, scaled by the stage's strength."
            if manifest.stage == LearnedDejpeg.name
            else "Quality-steered JPEG artifact remover for `dejpeg.flexible`: a residual CNN "
            "at half resolution working at the quality its estimator finds at each place "
            "(or the user's `quality`), for quality 10-90, gray and colour."
        ),
        {"Benchmark": benchmark, "Limitations": LIMITATIONS},
    )


if __name__ == "__main__":
    main()
