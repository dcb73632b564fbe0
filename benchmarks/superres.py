"""Super-resolution benchmark: the x2 and x4 networks against bicubic upscaling.

Usage: python benchmarks/superres.py [--data ../shared/data] [--limit N]
           [--sheet sheet.png] [--cards plugins/superres/restore_superres/weights]

Held-out photos: the 5 % of the super-resolution recipes' training folders that
training never sees (`restore.lab.training.held_out`), centre-cropped to
at most 256 x 256, sides a multiple of 4. The field's conventions: the low-resolution
input is the antialiased bicubic downscale (Pillow's, as MATLAB's `imresize`);
PSNR and SSIM on Y of YCbCr (BT.601, 16-235), `scale` pixels cropped from each
border. The same on scikit-image's classic test photos (`common.CLASSIC`, whole,
cropped to a multiple of 4), which no training saw. For each scale: bicubic
upscaling (Pillow) and the network (its shipped weights; left out, with the
reason printed, without them), with megapixels of output per second. `--sheet`
writes, at x4, for 3 photos: the input (nearest upscale), bicubic, the network
and the original; then real small photos (LFW faces, 250 px JPEGs, no original):
bicubic, then the network. `--cards` writes the tables into a model card beside
each weights manifest in that folder.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from restore_superres.learned import SuperRes, SuperResParams, SuperResX2, SuperResX4
from restore_superres.recipes import RECIPES

from restore.api.errors import RestoreError
from restore.engine.tiling import TileOptions, run_stage
from restore.io.files import discover
from restore.io.images import read_image, write_image
from restore.lab.data import default_data_root
from restore.lab.degrade import antialiased_resize
from restore.lab.export import write_model_cards
from restore.lab.metrics import describe_convention, psnr, ssim

from common import Timed, centre, classic_photos, held_out_files, table

HOLDOUT = 5  # percent, as in the training recipes
CROP = 256
STAGES: dict[int, type[SuperRes]] = {2: SuperResX2, 4: SuperResX4}
REAL_SMALL = "color_photos/lfw_faces"  # real small JPEGs, looked at only
Method = Callable[[np.ndarray], np.ndarray]


def multiple_of_4(image: np.ndarray) -> np.ndarray:
    """``image`` cropped to sides a multiple of 4 (the field's HR crop, for both scales)."""
    return image[: image.shape[0] // 4 * 4, : image.shape[1] // 4 * 4]


def held_out_photos(root: Path, limit: int) -> list[np.ndarray]:
    """Centre crops (at most CROP px, sides a multiple of 4) of the held-out photos."""
    return [
        multiple_of_4(centre(read_image(path).pixels, CROP))
        for _, path in held_out_files(root, RECIPES[0].data, HOLDOUT, limit)
    ]


def shrink(image: np.ndarray, scale: int) -> np.ndarray:
    """The benchmark's low-resolution input: antialiased bicubic downscale by ``scale``."""
    height, width = image.shape[:2]
    return antialiased_resize(image, (width // scale, height // scale))


def bicubic(scale: int) -> Method:
    """Pillow's bicubic upscaling by ``scale``."""
    return lambda low: np.clip(
        antialiased_resize(low, (low.shape[1] * scale, low.shape[0] * scale)), 0, 1
    )


def network(scale: int) -> Method:
    """The shipped network of ``scale``, through the tiler with its default tile size."""
    stage = STAGES[scale](torch.device("cpu"))
    return lambda low: run_stage(stage, {"image": low}, SuperResParams(), TileOptions())["image"]


def scores(method: Method, photos: list[np.ndarray], scale: int) -> dict[str, float]:
    """Mean Y-PSNR and Y-SSIM (border ``scale``) and output megapixels per second."""
    timed = Timed()
    results = [timed(method, shrink(photo, scale)) for photo in photos]
    pairs = list(zip(results, photos, strict=True))
    return {
        "PSNR (Y)": float(np.mean([psnr(r, p, convention="y", border=scale) for r, p in pairs])),
        "SSIM (Y)": float(np.mean([ssim(r, p, convention="y", border=scale) for r, p in pairs])),
        "MP/s out": timed.speed * scale**2,
    }


def score_rows(
    available: dict[int, Method], photos: list[np.ndarray]
) -> dict[str, dict[str, float]]:
    """Bicubic and each available network, at each scale, on ``photos``."""
    found: dict[str, dict[str, float]] = {}
    for scale, stage in STAGES.items():
        found[f"x{scale} bicubic"] = scores(bicubic(scale), photos, scale)
        if scale in available:
            found[f"x{scale} {stage.name}"] = scores(available[scale], photos, scale)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_root())
    parser.add_argument("--limit", type=int, default=60, help="held-out photos")
    parser.add_argument("--sheet", type=Path, default=None, help="contact sheet PNG")
    parser.add_argument(
        "--cards", type=Path, help="write a model card beside each manifest in this folder"
    )
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    photos = held_out_photos(args.data, args.limit)
    if not photos:
        raise SystemExit(f"no held-out photos under {args.data}")
    print(f"{len(photos)} held-out photos, at most {CROP} x {CROP}")
    available: dict[int, Method] = {}
    for scale, stage in STAGES.items():
        try:
            method = network(scale)
            method(photos[0][:16, :16])
            available[scale] = method
        except RestoreError as error:
            print(f"left out {stage.name}: {error}")
    convention = f"{describe_convention('y', 4)}; x2: border 2"
    classics = classic_photos()
    classic = [multiple_of_4(photo) for photo in classics.values()]
    text = "\n\n".join(
        table(f"Super-resolution, {title} ({convention})", score_rows(available, chosen))
        for title, chosen in (
            (f"{len(photos)} held-out photos", photos),
            (f"scikit-image's classic photos ({', '.join(classics)})", classic),
        )
    )
    if args.sheet is not None and 4 in available:
        write_sheet(args.sheet, photos, available[4], args.data)
        text += f"\n\nContact sheet: `{args.sheet}`"
    if args.cards is not None:
        write_cards(args.cards, text, len(photos))


def as_rgb(image: np.ndarray) -> np.ndarray:
    """Gray repeated to three channels, so the sheet's rows stack."""
    return np.repeat(image, 3, 2) if image.shape[2] == 1 else image


def write_sheet(path: Path, photos: list[np.ndarray], x4: Method, root: Path) -> None:
    """x4 rows: nearest | bicubic | network | original (256 px each); then real small
    photos' centre 128 px: bicubic | network (512 px each)."""
    rows = []
    for photo in [p for p in photos if p.shape[:2] == (CROP, CROP)][:3]:
        low = shrink(photo, 4)
        nearest = np.repeat(np.repeat(low, 4, axis=0), 4, axis=1)
        rows.append(np.hstack([as_rgb(r) for r in (nearest, bicubic(4)(low), x4(low), photo)]))
    for file in [f.path for f in discover(root / REAL_SMALL)][::401][:2]:
        small = centre(read_image(file).pixels, CROP // 2)
        if small.shape[:2] == (CROP // 2, CROP // 2):
            rows.append(np.hstack([as_rgb(bicubic(4)(small)), as_rgb(x4(small))]))
    write_image(path, np.clip(np.vstack(rows), 0, 1))
    print(f"contact sheet -> {path}")


LIMITATIONS = """Fidelity models (L1 only, no adversarial or perceptual
loss), trained on CPU (see Training for the time) on BSDS, Sun-Hays and BSD400
photos downscaled by antialiased bicubic. They undo that downscale; real small
photos are also blurred, noisy and compressed, which these models were not
trained on (that is the realistic variant's work). The held-out photos come
from the same collections."""


def write_cards(folder: Path, text: str, count: int) -> None:
    """A model card beside each weights manifest in ``folder``, with this table."""
    benchmark = (
        f"{count} held-out photos (5 % of the training folders, never trained on), "
        f"centre-cropped to at most {CROP} x {CROP} (sides a multiple of 4); MP/s of output "
        f"on this project's 2-core CPU machine (torch threads {torch.get_num_threads()}). "
        "Measured with:\n\n"
        f"```bash\npython {' '.join(sys.argv)}\n```\n\n{text}"
    )
    write_model_cards(
        folder,
        lambda manifest: (
            f"Fidelity super-resolution for `{manifest.stage}`: a light residual-in-residual "
            "dense network (ESRGAN's RRDB family) trained with L1."
        ),
        {"Benchmark": benchmark, "Limitations": LIMITATIONS},
    )


if __name__ == "__main__":
    main()
