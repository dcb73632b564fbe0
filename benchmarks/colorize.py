"""Colorization benchmark: the shipped classifier against plain regression and the gray input.

Usage: python benchmarks/colorize.py [--data ../shared/data] [--limit 50] [--sheet sheet.png]
                                     [--working-size 256] [--threads N]

Held-out colour photos (the validation split of the colorize training folders,
chosen by `restore.training.held_out` with the recipes' `holdout`, so never
trained on), made gray with BT.601 luma (`restore.color.luma`, repeated to RGB).
Methods run through `restore.tiling.run_stage` like a pipeline would:

- `gray input`: the gray image itself (a*b* = 0);
- `colorize.regression`: the same U-Net trained with plain L2 regression of a*b*;
- `colorize.unet`: the shipped classifier (rebalanced bins, annealed mean);

each model also with 5 and 20 colour hints taken from the original at random
(seeded) positions: the mean colour of a small window there; and with 20
hints but `hint_reach: 0` (the network's own response to the hints, without
the edge-aware spreading after it).

Columns: PSNR and SSIM of the RGB result against the original (8-bit RGB,
border 0), mean colourfulness (Hasler and Süsstrunk) as a fraction of the
originals' mean, and megapixels per second (total over all images, one
process, the torch threads printed). A model whose weights are missing is
skipped with a note. `--sheet` writes a PNG contact sheet of crops (gray input,
results, original) of the first `--sheet-rows` images.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import restore_colorize
import torch
from restore_colorize.recipes import RECIPES
from rich.console import Console
from rich.table import Table

from restore import StageUnavailable
from restore.api.color import luma, to_channels
from restore.app.registry import Registry
from restore.engine.tiling import TileOptions, run_stage
from restore.io.files import discover
from restore.io.images import read_image
from restore.lab.evaluate import contact_sheet
from restore.lab.export import write_model_cards
from restore.lab.metrics import colourfulness, psnr, ssim
from restore.lab.training import held_out

DESCRIPTIONS = {
    "colorize.unet": "Automatic and hint-guided colorizer for black-and-white photos: predicts a "
    "distribution over 261 quantised CIELAB a*b* bins from L* (class-rebalanced "
    "cross-entropy, annealed-mean readout); the photo's own full-resolution L* is kept. "
    "Colour hints go into the network and are then spread edge-aware over their regions "
    "(normalised screened-Poisson interpolation, `hint_reach`).",
    "colorize.regression": "Plain-regression baseline of the colorizer (same network body, "
    "L2 loss on a*b*), kept to show what classification adds.",
}
LIMITATIONS = """Trained for minutes on two CPU cores on about 6,700 small photos (ImageNet
samples, SUN scenes, LFW faces, BSDS); published automatic colorizers trained on
a million images for days reach about 27-28 dB PSNR on ImageNet validation
images (Zhang et al. 2016: 26.99, 2017: 27.73). Colours are plausible guesses,
often muted or wrong on objects whose colour is arbitrary."""

MODELS = ("colorize.regression", "colorize.unet")
HINT_COUNTS = (0, 5, 20)
GRAY = "gray input"

Method = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
Variant = tuple[Method, int]  # a method and its hint count


def held_out_images(data: Path, limit: int) -> list[tuple[str, np.ndarray]]:
    """Up to ``limit`` held-out colour photos of the training folders, spread over all of them."""
    recipe = RECIPES[0]
    found: list[tuple[str, Path]] = []
    for name in recipe.data:
        folder = data / name
        if not folder.is_dir():
            print(f"note: {folder} not found, skipped")
            continue
        for path, relative in discover(folder):
            if held_out(relative, recipe.holdout):
                found.append((f"{name}/{relative.as_posix()}", path))
    if not found:
        raise SystemExit(f"no held-out images under {data}")
    order = np.random.default_rng(0).permutation(len(found))[:limit]
    images = []
    for index in sorted(order):
        name, path = found[index]
        pixels = to_channels(read_image(path).pixels, 3)
        images.append((name, np.ascontiguousarray(pixels)))
    return images


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


def variants(registry: Registry, name: str, working_size: int) -> dict[str, Variant]:
    """The benchmark's rows for one colorizer: 0, 5 and 20 hints, and 20 without spreading."""
    run = stage_method(registry, name, working_size)
    rows = {name + (f" + {hints} hints" if hints else ""): (run, hints) for hints in HINT_COUNTS}
    network_only = stage_method(registry, name, working_size, hint_reach=0)
    return rows | {f"{name} + 20 hints, hint_reach 0": (network_only, 20)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--limit", type=int, default=50, help="held-out images (default 50)")
    parser.add_argument("--working-size", type=int, default=256)
    parser.add_argument("--sheet", type=Path, help="write a PNG contact sheet here")
    parser.add_argument("--sheet-rows", type=int, default=8)
    parser.add_argument("--crop", type=int, default=192, help="contact-sheet cell size")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument(
        "--cards", type=Path, help="write a model card beside each manifest in this folder"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    images = held_out_images(args.data, args.limit)
    registry = Registry.from_plugins(restore_colorize)
    methods: dict[str, Variant] = {}
    notes = []
    probe_gray = to_channels(luma(images[0][1]), 3)
    for name in MODELS:
        rows = variants(registry, name, args.working_size)
        run, _ = rows[name]
        try:
            run(probe_gray, images[0][1], 0)  # also loads the weights once, outside the timing
        except StageUnavailable as error:
            notes.append(f"skipped {name}: {error}")
            continue
        methods |= rows

    labels = [GRAY, *methods]
    scores: dict[str, list[tuple[float, float, float]]] = {label: [] for label in labels}
    seconds = dict.fromkeys(labels, 0.0)
    megapixels = 0.0
    original_colour = []
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
                (psnr(output, original), ssim(output, original), colourfulness(output))
            )
        if args.sheet and index < args.sheet_rows:
            shown = [
                label for label in labels if "hints" not in label or label.endswith("+ 5 hints")
            ]
            panels.append(
                (name, [*((label, outputs[label]) for label in shown), ("original", original)])
            )
        print(f"{index + 1}/{len(images)} {name}", end="\r", flush=True)

    print()
    reference = float(np.mean(original_colour))
    table = Table(
        title=f"colorization of {len(images)} held-out photos made gray "
        f"(working size {args.working_size}, torch threads {torch.get_num_threads()})"
    )
    for column, justify in (("method", "left"), ("PSNR (dB)", "right"), ("SSIM", "right"),
                            ("colourfulness", "right"), ("MP/s", "right")):  # fmt: skip
        table.add_column(column, justify=justify)
    for label in labels:
        p, s, c = np.mean(scores[label], axis=0)
        speed = "-" if label == GRAY else f"{megapixels / seconds[label]:.3g}"
        table.add_row(label, f"{p:.2f}", f"{s:.4f}", f"{c / reference:.2f}", speed)
    console = Console()
    console.print(table)
    if args.cards:
        rows = ["| method | PSNR (dB) | SSIM | colourfulness | MP/s |", "|---|---|---|---|---|"]
        for label in labels:
            p, s, c = np.mean(scores[label], axis=0)
            speed = "-" if label == GRAY else f"{megapixels / seconds[label]:.3g}"
            rows.append(f"| {label} | {p:.2f} | {s:.4f} | {c / reference:.2f} | {speed} |")
        benchmark = (
            f"{len(images)} held-out photos (never trained on) made gray, working size "
            f"{args.working_size}, torch threads {torch.get_num_threads()}; colourfulness is the "
            "mean Hasler–Süsstrunk colourfulness over the originals' mean "
            f"({reference:.1f}); PSNR/SSIM on 8-bit RGB. Measured with:\n\n"
            f"```bash\npython {' '.join(sys.argv)}\n```\n\n" + "\n".join(rows)
        )
        if args.sheet:
            benchmark += (
                f"\n\nContact sheet (gray input, each model without and with 5 hints, "
                f"original): [{args.sheet.name}](../../../../{args.sheet.as_posix()})"
            )
        write_model_cards(
            args.cards,
            lambda manifest: DESCRIPTIONS[manifest.stage],
            {"Benchmark": benchmark, "Limitations": LIMITATIONS},
        )
    console.print(
        "colourfulness: mean Hasler–Süsstrunk colourfulness over the mean of the originals "
        f"({reference:.1f}); PSNR/SSIM on 8-bit RGB, border 0"
    )
    for note in notes:
        console.print(f"note: {note}")
    if args.sheet and panels:
        contact_sheet(args.sheet, panels, crop=args.crop)
        console.print(f"contact sheet: {args.sheet}")


if __name__ == "__main__":
    main()
