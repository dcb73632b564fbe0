"""Sharpening benchmark: the learned sharpener against unsharp masking, on mild softness.

Usage: python benchmarks/sharpen.py [--data ../shared/data] [--limit N]
           [--weights W.safetensors] [--sheet sheet.png]
           [--cards plugins/sharpen/restore_sharpen/weights]

Held-out photos (the 5 % of `sharpen.cnn`'s training folders that training
never sees, `restore.lab.training.held_out`), made mildly soft whole (Gaussian
blur of sigma 0.7-1.5 px, then JPEG quality 90; seeded per file) and
centre-cropped to 256 x 256. For each method: PSNR and SSIM on 8-bit RGB (gray
photos as gray), border 0, the edge overshoot, and megapixels per second.
Edge overshoot: the mean positive error (result above the reference, in 8-bit
levels, over all channels) within 2 px (Chebyshev) of the reference's strong
edges (Canny on its 8-bit luma, thresholds 100 and 200): the bright haloes
sharpening draws. Methods: the soft input; unsharp mask (`sharpen.unsharp`) at
its best single strength and radius (chosen by PSNR on these very images:
generous to the baseline); `sharpen.cnn` at strengths 0.5, 1 and 1.5, with its
shipped weights or the file given, left out (with the reason printed) without
either. `--sheet` writes, for the first 4 photos: the soft input, the best
unsharp mask, `sharpen.cnn` at strength 1 and the reference. `--cards` writes
the table into a model card beside each weights manifest in that folder.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from restore_sharpen.learned import LearnedSharpen, LearnedSharpenParams
from restore_sharpen.recipes import RECIPES
from restore_sharpen.unsharp import Unsharp, UnsharpParams

from restore.api.color import luma
from restore.api.errors import RestoreError
from restore.api.stage import Stage
from restore.engine.tiling import TileOptions, run_stage
from restore.io.images import read_image, write_image
from restore.lab.data import default_data_root
from restore.lab.degrade import GaussianBlur, Jpeg, Recipe, file_seed
from restore.lab.export import write_model_cards
from restore.lab.metrics import describe_convention, psnr, ssim

from common import centre, held_out_files, table

HOLDOUT = 5  # percent, as in the sharpen training recipe
CROP = 256
SOFTNESS = Recipe(steps=[GaussianBlur(sigma=(0.7, 1.5)), Jpeg(quality=90)])
UNSHARP = [
    {"strength": s, "radius": r} for s in (0.5, 1.0, 1.5, 2.0, 3.0, 4.0) for r in (0.8, 1.2, 1.6)
]
STRENGTHS = (0.5, 1.0, 1.5)
EDGE_REACH = 2  # px from a strong edge

Method = Callable[[np.ndarray], np.ndarray]


def held_out_pairs(root: Path, limit: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(soft, sharp) centre crops of the validation split of the training folders."""
    pairs = []
    for name, path in held_out_files(root, RECIPES[0].data, HOLDOUT, limit):
        photo = read_image(path).pixels
        soft = SOFTNESS.apply(photo, file_seed(0, name)).image
        pairs.append((centre(soft, CROP), centre(photo, CROP)))
    return pairs


def overshoot(result: np.ndarray, reference: np.ndarray) -> float:
    """Mean positive 8-bit error within EDGE_REACH px of the reference's strong edges."""
    levels = np.round(np.clip(reference, 0, 1) * 255)
    edges = cv2.Canny(np.round(luma(levels)[..., 0]).astype(np.uint8), 100, 200)
    near = cv2.dilate(edges, np.ones((2 * EDGE_REACH + 1,) * 2, np.uint8)) > 0
    error = np.round(np.clip(result, 0, 1) * 255) - levels
    return float(np.maximum(error[near], 0).mean()) if near.any() else 0.0


def stage_method(stage: type[Stage], params: Any) -> Method:
    """A stage run through the tiler with the default tile size."""
    instance = stage(torch.device("cpu"))
    return lambda image: run_stage(instance, {"image": image}, params, TileOptions())["image"]


def scores(method: Method, pairs: list[tuple[np.ndarray, np.ndarray]]) -> dict[str, float]:
    """Mean PSNR, SSIM and edge overshoot of a method, and its megapixels per second."""
    results, seconds = [], 0.0
    for soft, _ in pairs:
        started = time.perf_counter()
        results.append(method(soft))
        seconds += time.perf_counter() - started
    truth = [sharp for _, sharp in pairs]
    pixels = sum(soft.shape[0] * soft.shape[1] for soft, _ in pairs)
    return {
        "PSNR": float(np.mean([psnr(r, t) for r, t in zip(results, truth, strict=True)])),
        "SSIM": float(np.mean([ssim(r, t) for r, t in zip(results, truth, strict=True)])),
        "overshoot": float(np.mean([overshoot(r, t) for r, t in zip(results, truth, strict=True)])),
        "MP/s": pixels / 1e6 / max(seconds, 1e-9),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_root())
    parser.add_argument("--limit", type=int, default=40, help="held-out photos")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--sheet", type=Path, default=None, help="contact sheet PNG")
    parser.add_argument(
        "--cards", type=Path, help="write a model card beside each manifest in this folder"
    )
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    pairs = held_out_pairs(args.data, args.limit)
    if not pairs:
        raise SystemExit(f"no held-out photos under {args.data}")
    print(f"{len(pairs)} held-out photos, {CROP} x {CROP}")

    rows = {"soft input": scores(lambda image: image, pairs)}
    rows["soft input"]["MP/s"] = float("nan")
    unsharp = {
        f"unsharp mask (strength {p['strength']:g}, radius {p['radius']:g})": scores(
            stage_method(Unsharp, UnsharpParams(**p)), pairs
        )
        for p in UNSHARP
    }
    best = max(unsharp, key=lambda label: unsharp[label]["PSNR"])
    rows[f"{best}, best"] = unsharp[best]
    sheet_methods: list[Method] = [lambda image: image]
    sheet_methods.append(stage_method(Unsharp, UnsharpParams(**UNSHARP[list(unsharp).index(best)])))
    for strength in STRENGTHS:
        params = LearnedSharpenParams(strength=strength, weights=args.weights)
        method = stage_method(LearnedSharpen, params)
        try:
            method(pairs[0][0][:16, :16])
        except RestoreError as error:
            print(f"left out sharpen.cnn: {error}")
            break
        rows[f"sharpen.cnn (strength {strength:g})"] = scores(method, pairs)
        if strength == 1:
            sheet_methods.append(method)
    text = table(f"Mild softness ({describe_convention()})", rows)
    if args.sheet is not None:
        grid = [[method(soft) for method in sheet_methods] + [sharp] for soft, sharp in pairs[:4]]
        write_image(args.sheet, np.clip(np.vstack([np.hstack(row) for row in grid]), 0, 1))
        labels = ["soft input", "best unsharp mask", "sharpen.cnn strength 1"][: len(sheet_methods)]
        text += f"\n\nContact sheet ({', '.join(labels)}, reference): `{args.sheet}`"
        print(f"contact sheet -> {args.sheet}")
    if args.cards is not None:
        write_cards(args.cards, text, len(pairs))


LIMITATIONS = """Trained on CPU (see Training for the time) on mild
Gaussian softness (sigma 0.7-1.5 px) and JPEG of BSDS and Sun-Hays photos. It
restores contrast that a blur of about that size took; stronger, defocus or
motion blur is `deblur.unet`'s work. The held-out photos come from the same
collections; real scans differ."""


def write_cards(folder: Path, text: str, count: int) -> None:
    """A model card beside each weights manifest in ``folder``, with this table."""
    benchmark = (
        f"{count} held-out photos (5 % of the training folders, never trained on), made "
        f"soft whole (Gaussian sigma 0.7-1.5, JPEG 90) and centre-cropped to {CROP} x {CROP}, "
        "seeded per file; overshoot: the mean positive 8-bit error within 2 px of the "
        "reference's Canny edges; MP/s on this project's 2-core CPU machine (torch threads "
        f"{torch.get_num_threads()}). Measured with:\n\n"
        f"```bash\npython {' '.join(sys.argv)}\n```\n\n{text}"
    )
    write_model_cards(
        folder,
        lambda manifest: (
            "Learned sharpener for `sharpen.cnn`: a small residual CNN restoring the edge "
            "contrast lost to mild softness, scaled by the stage's strength."
        ),
        {"Benchmark": benchmark, "Limitations": LIMITATIONS},
    )


if __name__ == "__main__":
    main()
