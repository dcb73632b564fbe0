"""Colorization benchmark: the scene colorizer against the older one and the gray input.

Usage: python benchmarks/colorize.py [--data ../shared/data] [--limit N] [--sheet sheet.png]
                                     [--real-prints DIR --real-sheet OUT.png]
                                     [--weights W.safetensors] [--spread-limits 20,40,60]
                                     [--temperatures 0.2,0.38]
                                     [--split test|validation]
                                     [--models colorize.unet,colorize.global] [--threads N]

Test photos: the `reserved` split of the `colorize.global` recipe (3 % of every
colour folder, chosen by `restore.lab.training.held_out`: the older recipes'
held-out split). No training run and no checkpoint selection has seen them:
the older models exported their last state and `colorize.global` selects on
its own validation split. Each is made gray with BT.601 luma (repeated to RGB)
and run through `restore.engine.tiling.run_stage` as a pipeline would:

- `gray input`: the gray image itself (a*b* = 0);
- each model (`--models`, default the old `colorize.unet` and the new
  `colorize.global`) with 0, 5 and 20 colour hints taken from the original at
  random (seeded) positions: the mean colour of a small window there;
- with `--spread-limits` and/or `--temperatures`, `colorize.global` without
  hints at every pair of those `spread_limit` and `temperature` values (each
  defaults to the stage's own) (to choose its defaults, with `--split validation`:
  the recipe's validation photos instead of the test ones); `--weights` runs it with a
  weights file that is not installed yet.

Columns: PSNR and SSIM of the RGB result against the original (8-bit RGB,
border 0); mean colourfulness (Hasler and Süsstrunk) as a fraction of the
originals' mean; the blotch score, the mean over the images of the share of
their neutral pixels (original CIELAB chroma under 8: walls, skies, gray
clothes) whose result has chroma over 20; and megapixels per second (one
process, the torch threads printed).

A second table runs the models without hints on print-like versions of the
same photos (the `print-like` degradation: sepia or gray, faded, grain, blur,
JPEG): blotch score, colourfulness and the tone shift, the mean CIELAB a*b*
distance between a model's colours for the print and for the plain gray image
(0: the print's tone does not change the colours).

`--sheet` writes a PNG contact sheet of whole images (gray input or print, each
model, original): `--sheet-rows` test photos and four print-like inputs (sepia,
sepia and faded, faded gray, grainy). `--real-prints DIR` colours every image
of DIR (e.g. `../shared/data/real_old_prints`, which are for looking at only)
into a separate sheet, `--real-sheet`, which must lie outside this checkout so
that it is never committed. A model whose weights are missing is skipped with
a note.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from itertools import product
from pathlib import Path

import cv2
import numpy as np
import restore_colorize
import torch
from PIL import Image, ImageDraw, ImageFont
from restore_colorize.lab import rgb_to_lab
from restore_colorize.recipes import RECIPES
from restore_colorize.unet import GlobalColorizeParams
from rich.console import Console
from rich.table import Table

from restore import StageUnavailable
from restore.api.color import luma, to_channels
from restore.app.registry import Registry
from restore.engine.tiling import TileOptions, run_stage
from restore.io.files import discover
from restore.io.images import read_image, write_image
from restore.lab.degrade import SCAN, PrintLike, Recipe
from restore.lab.export import write_model_cards
from restore.lab.metrics import colourfulness, psnr, ssim
from restore.lab.training import image_split

REPOSITORY = Path(__file__).resolve().parents[1]
DESCRIPTIONS = {
    "colorize.global": "Automatic and hint-guided colorizer for black-and-white and toned "
    "prints with image-level context: a U-Net whose global branch (pooled bottleneck, MLP, "
    "FiLM, after Iizuka et al. 2016) gives one scene one palette, classifying 261 quantised "
    "CIELAB a*b* bins (class-rebalanced cross-entropy) from tone-normalised L*, so sepia, "
    "faded and gray prints get the same colours. The annealed-mean readout falls back toward "
    "neutral where the predicted distribution is wide (`spread_limit`); the photo's own "
    "full-resolution L* is kept; hints are spread edge-aware (`hint_reach`).",
    "colorize.unet": "Automatic and hint-guided colorizer for black-and-white photos: predicts a "
    "distribution over 261 quantised CIELAB a*b* bins from L* (class-rebalanced "
    "cross-entropy, annealed-mean readout); the photo's own full-resolution L* is kept. "
    "Colour hints go into the network and are then spread edge-aware over their regions "
    "(normalised screened-Poisson interpolation, `hint_reach`).",
    "colorize.regression": "Plain-regression baseline of the colorizer (same network body, "
    "L2 loss on a*b*), kept to show what classification adds.",
}
LIMITATIONS = """Trained on two CPU cores on about 6,400 small photos (ImageNet
samples, SUN scenes, LFW faces, BSDS). Published automatic colorizers trained on
the 1.3 million ImageNet photos reach 26.99 dB (Zhang et al. 2016) and 27.73 dB
(Zhang et al. 2017) PSNR on ImageNet validation images; the figures above are on
other images, and these models are far smaller and trained far shorter.
Colours are plausible guesses, often muted or wrong on objects whose colour is
arbitrary."""

MODELS = ("colorize.unet", "colorize.global")
HINT_COUNTS = (0, 5, 20)
GRAY = "gray input"
NEUTRAL, BLOTCH = 8.0, 20.0  # the blotch score's chroma thresholds (CIELAB)
PRINTS = {  # the sheet's print-like looks: PrintLike settings
    "sepia": {"sepia_probability": 1.0, "sepia": (0.8, 1.0)},
    "sepia, faded": {"sepia_probability": 1.0, "black": (0.1, 0.15), "white": (0.8, 0.85)},
    "faded gray": {"sepia_probability": 0.0, "black": (0.12, 0.18), "white": (0.75, 0.8)},
    "grainy": {"sepia_probability": 0.5, "grain": (0.06, 0.08), "grain_size": (1.0, 1.5)},
}

Method = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
Variant = tuple[Method, int]  # a method and its hint count
Row = tuple[float, float, float, float]  # PSNR, SSIM, colourfulness, blotch share


def test_images(data: Path, limit: int, split: str = "test") -> list[tuple[str, np.ndarray]]:
    """Up to ``limit`` (0: all) photos of ``split`` (``test``, or ``validation`` to choose a
    setting on) of the scene recipe's folders, from all of them."""
    recipe = next(r for r in RECIPES if r.name == "colorize.global")
    found: list[tuple[str, Path]] = []
    for name in recipe.data:
        folder = data / name
        if not folder.is_dir():
            print(f"note: {folder} not found, skipped")
            continue
        splits = image_split(
            folder, recipe.holdout, by_folder=recipe.split_by_folder, reserved=recipe.reserved
        )
        found += [(f"{name}/{r.as_posix()}", folder / r) for r, s in splits.items() if s == split]
    if not found:
        raise SystemExit(f"no {split} images under {data}")
    order = np.random.default_rng(0).permutation(len(found))
    chosen = sorted(order[:limit] if limit else order)
    return [(found[i][0], to_channels(read_image(found[i][1]).pixels, 3)) for i in chosen]


def sample_hints(original: np.ndarray, count: int, seed: int) -> list[dict[str, object]]:
    """``count`` hints at random positions, each the mean colour of a small window there."""
    height, width = original.shape[:2]
    radius = max(1, round(max(height, width) / 256))
    rng = np.random.default_rng(seed)
    hints = []
    for _ in range(count):
        y, x = int(rng.integers(height)), int(rng.integers(width))
        window = original[max(0, y - radius) : y + radius + 1, max(0, x - radius) : x + radius + 1]
        colour = np.clip(np.round(window.reshape(-1, 3).mean(0) * 255), 0, 255).astype(int)
        hints.append({"x": (x + 0.5) / width, "y": (y + 0.5) / height, "color": colour.tolist()})
    return hints


def stage_method(registry: Registry, name: str, working_size: int, **settings: object) -> Method:
    """A registered colorizer run through the tiler, with hints sampled from the original."""
    stage = registry.stages[name](torch.device("cpu"))

    def run(gray: np.ndarray, original: np.ndarray, hints: int) -> np.ndarray:
        params = stage.Params(
            working_size=working_size, hints=sample_hints(original, hints, seed=hints), **settings
        )
        return run_stage(stage, {"image": gray}, params, TileOptions())["image"]

    return run


def _ab(image: np.ndarray) -> torch.Tensor:
    """CIELAB a*b* (2 x H x W) of an RGB float image, on its 8-bit values."""
    quantised = np.round(np.clip(image, 0, 1) * 255) / 255
    return rgb_to_lab(torch.from_numpy(quantised).float().permute(2, 0, 1)[None])[0, 1:]


def chroma(image: np.ndarray) -> np.ndarray:
    """CIELAB chroma (H x W) of an RGB float image, on its 8-bit values."""
    return _ab(image).norm(dim=0).numpy()


def blotches(result: np.ndarray, original: np.ndarray) -> float:
    """The share of the original's neutral pixels (chroma < 8) that came out chroma > 20
    (NaN for an image with no neutral pixels)."""
    neutral = chroma(original) < NEUTRAL
    if not neutral.any():
        return float("nan")
    return float(np.mean(chroma(result)[neutral] > BLOTCH))


def tone_shift(from_print: np.ndarray, from_gray: np.ndarray) -> float:
    """Mean CIELAB a*b* distance between two colorizations of one photo."""
    a, b = (_ab(image) for image in (from_print, from_gray))
    return float((a - b).norm(dim=0).mean())


def print_like(original: np.ndarray, look: str, seed: int) -> np.ndarray:
    """``original`` as a scanned old print (``PRINTS[look]``), seeded."""
    recipe = Recipe(name=look, steps=[PrintLike.model_validate(PRINTS[look]), *SCAN])
    return to_channels(recipe.apply(original, seed).image, 3)


def thumbnail(image: np.ndarray, cell: int) -> np.ndarray:
    """``image`` (gray or RGB) resized (area) so that its long side is ``cell``."""
    rgb = to_channels(image, 3)
    factor = cell / max(rgb.shape[:2])
    size = (max(1, round(rgb.shape[1] * factor)), max(1, round(rgb.shape[0] * factor)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], 3)


def write_sheet(
    path: Path, rows: Sequence[tuple[str, Sequence[tuple[str, np.ndarray]]]], cell: int
) -> None:
    """A PNG grid of whole images: one row per photo, a label over every cell, the
    photo's name under its row."""
    columns = max(len(images) for _, images in rows)
    gap, label = 4, 12
    row_height = 2 * label + cell
    sheet = Image.new("RGB", (columns * (cell + gap), len(rows) * row_height), (255, 255, 255))
    draw, font = ImageDraw.Draw(sheet), ImageFont.load_default()
    for r, (name, images) in enumerate(rows):
        top = r * row_height
        for c, (caption, image) in enumerate(images):
            left = c * (cell + gap)
            tile = np.round(np.clip(thumbnail(image, cell), 0, 1) * 255).astype(np.uint8)
            draw.text((left + 2, top), caption[: cell // 6], fill=(0, 0, 0), font=font)
            sheet.paste(Image.fromarray(tile), (left, top + label))
        draw.text((2, top + label + cell), name[: columns * cell // 6], fill=(0, 0, 0), font=font)
    write_image(path, np.asarray(sheet, dtype=np.float32) / 255)


def methods_for(
    registry: Registry,
    names: Sequence[str],
    working_size: int,
    readouts: Sequence[tuple[float, float]],
    weights: Path | None,
) -> tuple[dict[str, Variant], dict[str, Method], list[str]]:
    """The table's rows (label -> method, hints), each model's plain method, and notes."""
    rows: dict[str, Variant] = {}
    plain: dict[str, Method] = {}
    notes = []
    probe = np.full((32, 32, 3), 0.5, np.float32)
    for name in names:
        own = {"weights": weights} if name == "colorize.global" and weights else {}
        run = stage_method(registry, name, working_size, **own)
        try:
            run(probe, probe, 0)  # also loads the weights once, outside the timing
        except StageUnavailable as error:
            notes.append(f"skipped {name}: {error}")
            continue
        plain[name] = run
        rows |= {name + (f" + {h} hints" if h else ""): (run, h) for h in HINT_COUNTS}
        if name == "colorize.global":
            for limit, temperature in readouts:
                method = stage_method(
                    registry,
                    name,
                    working_size,
                    spread_limit=limit,
                    temperature=temperature,
                    **own,
                )
                rows[f"{name}, spread_limit {limit:g}, T {temperature:g}"] = (method, 0)
    return rows, plain, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--limit", type=int, default=0, help="test photos (default 0: all)")
    parser.add_argument(
        "--split",
        choices=("test", "validation"),
        default="test",
        help="the photos: the test split, or the validation split to choose settings on",
    )
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated stages")
    parser.add_argument("--working-size", type=int, default=256)
    parser.add_argument("--weights", type=Path, help="colorize.global weights to use instead")
    parser.add_argument("--spread-limits", default="", help="e.g. 20,40,60 (colorize.global)")
    parser.add_argument("--temperatures", default="", help="e.g. 0.2,0.38 (colorize.global)")
    parser.add_argument("--sheet", type=Path, help="write a PNG contact sheet here")
    parser.add_argument("--sheet-rows", type=int, default=8)
    parser.add_argument("--cell", type=int, default=192, help="contact-sheet cell size")
    parser.add_argument("--real-prints", type=Path, help="folder of real prints to look at")
    parser.add_argument("--real-sheet", type=Path, help="their sheet, outside this checkout")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument(
        "--cards", type=Path, help="write a model card beside each manifest in this folder"
    )
    args = parser.parse_args()
    if args.real_prints and (
        args.real_sheet is None or args.real_sheet.resolve().is_relative_to(REPOSITORY)
    ):
        parser.error("--real-prints needs a --real-sheet outside the repository")
    if args.threads:
        torch.set_num_threads(args.threads)

    images = test_images(args.data, args.limit, args.split)
    registry = Registry.from_plugins(restore_colorize)
    defaults = GlobalColorizeParams()
    limits = [float(v) for v in args.spread_limits.split(",") if v]
    temperatures = [float(v) for v in args.temperatures.split(",") if v]
    readouts = (
        list(product(limits or [defaults.spread_limit], temperatures or [defaults.temperature]))
        if limits or temperatures
        else []
    )
    methods, plain, notes = methods_for(
        registry, args.models.split(","), args.working_size, readouts, args.weights
    )
    labels = [GRAY, *methods]
    scores: dict[str, list[Row]] = {label: [] for label in labels}
    prints: dict[str, list[tuple[float, float, float]]] = {name: [] for name in plain}
    seconds = dict.fromkeys(labels, 0.0)
    megapixels, original_colour = 0.0, []
    looks = list(PRINTS)
    panels = []
    for index, (name, original) in enumerate(images):
        gray = to_channels(luma(original), 3)
        megapixels += original.shape[0] * original.shape[1] / 1e6
        original_colour.append(colourfulness(original))
        outputs = {GRAY: gray}
        for label, (run, hints) in methods.items():
            start = time.perf_counter()
            outputs[label] = run(gray, original, hints)
            seconds[label] += time.perf_counter() - start
        for label, output in outputs.items():
            scores[label].append(
                (
                    psnr(output, original),
                    ssim(output, original),
                    colourfulness(output),
                    blotches(output, original),
                )
            )
        look = looks[index % len(looks)]
        toned = print_like(original, look, seed=index)
        coloured = {model: run(toned, original, 0) for model, run in plain.items()}
        for model, output in coloured.items():
            prints[model].append(
                (
                    blotches(output, original),
                    colourfulness(output),
                    tone_shift(output, outputs[model]),
                )
            )
        if args.sheet and index < args.sheet_rows:
            shown = [GRAY, *plain]
            panels.append((name, [*((lb, outputs[lb]) for lb in shown), ("original", original)]))
        elif args.sheet and index < args.sheet_rows + len(looks):
            row = [(f"print: {look}", toned), *coloured.items(), ("original", original)]
            panels.append((f"{name} ({look})", row))
        print(f"{index + 1}/{len(images)} {name}", end="\r", flush=True)

    print()
    reference = float(np.mean(original_colour))
    header = ("method", "PSNR (dB)", "SSIM", "colourfulness", "blotch score", "MP/s")
    lines = []
    for label in labels:
        p, s, c, b = np.nanmean(scores[label], axis=0)
        speed = "-" if label == GRAY else f"{megapixels / seconds[label]:.3g}"
        lines.append((label, f"{p:.2f}", f"{s:.4f}", f"{c / reference:.2f}", f"{b:.4f}", speed))
    print_lines = []
    for model, values in prints.items():
        b, c, t = np.nanmean(values, axis=0)
        print_lines.append((model, f"{b:.4f}", f"{c / reference:.2f}", f"{t:.2f}"))
    print_header = ("method (print-like input)", "blotch score", "colourfulness", "tone shift")
    title = (
        f"{len(images)} test photos (never trained on or selected on)"
        if args.split == "test"
        else f"{len(images)} validation photos (never trained on; for choosing settings)"
    ) + f" made gray, working size {args.working_size}, torch threads {torch.get_num_threads()}"
    console = Console()
    tables = ((title, header, lines), ("the same photos as prints", print_header, print_lines))
    for heading, head, body in tables:
        table = Table(title=heading)
        for k, column in enumerate(head):
            table.add_column(column, justify="left" if k == 0 else "right")
        for line in body:
            table.add_row(*line)
        console.print(table)
    console.print(
        f"colourfulness: Hasler–Süsstrunk over the originals' mean ({reference:.1f}); blotch "
        f"score: mean share of neutral pixels (chroma < {NEUTRAL:g}) coloured over "
        f"{BLOTCH:g}; PSNR/SSIM on 8-bit RGB, border 0"
    )
    for note in notes:
        console.print(f"note: {note}")
    if args.sheet and panels:
        write_sheet(args.sheet, panels, args.cell)
        console.print(f"contact sheet: {args.sheet}")
    if args.real_prints:
        rows = []
        for found in discover(args.real_prints):
            pixels = read_image(found.path).pixels
            rows.append(
                (
                    found.relative.as_posix(),
                    [("print", pixels)]
                    + [(model, run(pixels, pixels, 0)) for model, run in plain.items()],
                )
            )
        write_sheet(args.real_sheet, rows, args.cell)
        console.print(f"real prints (do not commit): {args.real_sheet}")
    if args.cards:

        def markdown(head: Sequence[str], body: Sequence[Sequence[str]]) -> str:
            rows = [head, ["---"] * len(head), *body]
            return "\n".join(f"| {' | '.join(row)} |" for row in rows)

        benchmark = (
            f"{title}; colourfulness is the mean Hasler–Süsstrunk colourfulness over the "
            f"originals' mean ({reference:.1f}); the blotch score is the mean share of neutral "
            f"pixels (original chroma < {NEUTRAL:g}) coloured over {BLOTCH:g}; PSNR/SSIM on 8-bit "
            f"RGB. Measured with:\n\n```bash\npython {' '.join(sys.argv)}\n```\n\n"
            + markdown(header, lines)
            + "\n\nOn print-like versions of the same photos (tone shift: mean a*b* distance "
            "to the colours given for the plain gray image):\n\n"
            + markdown(print_header, print_lines)
        )
        if args.sheet:
            benchmark += (
                f"\n\nContact sheet (gray input or print, each model, original): "
                f"[{args.sheet.name}](../../../../{args.sheet.as_posix()})"
            )
        write_model_cards(
            args.cards,
            lambda manifest: DESCRIPTIONS[manifest.stage],
            {"Benchmark": benchmark, "Limitations": LIMITATIONS},
        )


if __name__ == "__main__":
    main()
