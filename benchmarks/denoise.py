"""Denoising benchmark: learned denoisers against OpenCV non-local means and BM3D.

Usage: python benchmarks/denoise.py [--data ../shared/data] [--limit N] [--bf16]

Held-out images (the 5 % of BSD400_gray and CBSD432 that training never sees,
chosen by `restore.training.held_out`), colour ones centre-cropped to 256 x 256;
Gaussian noise at sigma 15, 25, 50 from the `noise-15/25/50` recipes (8-bit,
clipped), seeded per file. PSNR/SSIM on 8-bit RGB (or gray), border 0. Speed is
megapixels per second over all runs of a method (default tile size, the number
of torch threads is printed). BM3D needs the optional `bm3d` package
(`pip install bm3d`); it is given the true sigma, the learned models are blind.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from restore.api.weights import Manifest
from restore.app.registry import Registry
from restore.engine.tiling import TileOptions, run_stage
from restore.io.files import discover
from restore.io.images import read_image
from restore.lab.degrade import file_seed, load_recipe
from restore.lab.evaluate import evaluate
from restore.lab.export import write_model_cards
from restore.lab.training import held_out

SETS = {"gray": ("BSD400_gray", 1), "color": ("CBSD432_filtered", 3)}
SIGMAS = (15, 25, 50)
HOLDOUT = 5  # percent, as in the denoise training recipes
CROP = 256
LIMITATIONS = """Trained on CPU in 1-1.5 hours (bfloat16 autocast; see Training for the time),
on Gaussian noise only: real sensor noise, film grain and JPEG artifacts are
outside its training. The held-out images come from the same collections as the
training images (BSDS); published DnCNN figures on BSD68 / CBSD68 are measured
on other images and are not directly comparable."""

Method = Callable[[np.ndarray], np.ndarray]


def held_out_images(folder: Path, channels: int, limit: int) -> list[tuple[str, np.ndarray]]:
    """The validation split of a training folder, centre-cropped to CROP."""
    images = []
    for found in discover(folder):
        relative = found.relative
        if held_out(relative, HOLDOUT):
            pixels = read_image(found.path).pixels
            pixels = pixels if channels == 3 else pixels[..., :1]
            y, x = max(0, (pixels.shape[0] - CROP) // 2), max(0, (pixels.shape[1] - CROP) // 2)
            images.append((relative.as_posix(), pixels[y : y + CROP, x : x + CROP].copy()))
    return images[:limit]


def stage_method(
    registry: Registry, name: str, precision: str = "float32", **params: Any
) -> Method:
    """Run a registered stage through the tiler with the default tile size."""
    stage = registry.stages[name](torch.device("cpu"))
    bound = stage.Params(**params)
    options = TileOptions(precision=precision)
    return lambda image: run_stage(stage, {"image": image}, bound, options)["image"]


def bm3d_method(sigma: int) -> Method | None:
    """BM3D / CBM3D with the true sigma, or None when the package is missing."""
    try:
        import bm3d
    except ImportError:
        return None

    def run(image: np.ndarray) -> np.ndarray:
        if image.shape[2] == 3:
            return np.clip(bm3d.bm3d_rgb(image, sigma / 255), 0, 1).astype(np.float32)
        return np.clip(bm3d.bm3d(image[..., 0], sigma / 255), 0, 1)[..., None].astype(np.float32)

    return run


def methods_for(registry: Registry, sigma: int, bf16: bool) -> dict[str, Method]:
    """Every method to compare at one noise level."""
    methods = {"nlmeans (OpenCV)": stage_method(registry, "denoise.nlmeans", sigma=sigma)}
    baseline = bm3d_method(sigma)
    if baseline is not None:
        methods["BM3D"] = baseline
    for name in ("denoise.dncnn", "denoise.mwcnn"):
        methods[name] = stage_method(registry, name)
        if bf16:
            methods[f"{name} bf16"] = stage_method(registry, name, precision="bfloat16")
    return methods


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--limit", type=int, default=100, help="images per set at most")
    parser.add_argument("--bf16", action="store_true", help="also run the models in bfloat16")
    parser.add_argument(
        "--cards", type=Path, help="write a model card beside each manifest in this folder"
    )
    args = parser.parse_args()

    registry = Registry.from_entry_points({"RESTORE_PLUGINS": "denoise"})
    print(f"torch threads: {torch.get_num_threads()}; PSNR (dB) / SSIM on 8-bit, border 0")
    if bm3d_method(0) is None:
        print("note: BM3D skipped (pip install bm3d)")
    results: dict[tuple[str, str, int], tuple[float, float, float | None]] = {}
    for set_name, (folder, channels) in SETS.items():
        images = held_out_images(args.data / folder, channels, args.limit)
        for sigma in SIGMAS:
            noise = load_recipe(f"noise-{sigma}")
            pairs = [
                (name, noise.apply(clean, file_seed(0, Path(name))).image, clean)
                for name, clean in images
            ]
            report = evaluate(methods_for(registry, sigma, args.bf16), pairs)
            for method, means in report.means().items():
                results[(method, set_name, sigma)] = means
        print(f"{set_name}: {len(images)} held-out images from {folder}")

    table = format_table(results)
    print("\n".join(table))
    if args.cards:
        write_denoiser_cards(args.cards, table, " ".join(sys.argv))


def format_table(
    results: dict[tuple[str, str, int], tuple[float, float, float | None]],
) -> list[str]:
    """The results as a markdown table: PSNR / SSIM per set and sigma, then speeds."""
    methods = list(dict.fromkeys(method for method, _, _ in results))
    columns = [(s, sigma) for s in SETS for sigma in SIGMAS]
    header = ["method", *(f"{s} σ{sigma}" for s, sigma in columns), "MP/s gray", "MP/s color"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method in methods:
        cells = ["{:.2f} / {:.3f}".format(*results[(method, s, sigma)][:2]) for s, sigma in columns]
        for set_name in SETS:
            speeds = [results[(method, set_name, sigma)][2] for sigma in SIGMAS]
            known = [speed for speed in speeds if speed is not None]
            cells.append("-" if len(known) < len(speeds) else f"{np.mean(known):.3f}")
        label = "noisy input" if method == "input" else method
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def write_denoiser_cards(folder: Path, table: list[str], command: str) -> None:
    """A model card beside each weights manifest in ``folder``, with this benchmark."""
    benchmark = (
        "PSNR (dB) / SSIM on 8-bit images, border 0, on held-out images (never trained "
        "on); Gaussian noise, 8-bit clipped; MP/s on this project's 2-core CPU machine "
        f"(torch threads: {torch.get_num_threads()}, default tile 512). Measured with:\n\n"
        f"```bash\npython {command}\n```\n\n" + "\n".join(table)
    )

    def describe(manifest: Manifest) -> str:
        kind = "colour" if manifest.config.get("channels") == 3 else "grayscale"
        return (
            f"Blind {kind} denoiser for `{manifest.stage}` (noise sigma 0-55 on 8-bit "
            "images): the network predicts the noise, which is subtracted."
        )

    write_model_cards(folder, describe, {"Benchmark": benchmark, "Limitations": LIMITATIONS})


if __name__ == "__main__":
    main()
