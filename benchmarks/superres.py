"""Super-resolution benchmark: the x2 and x4 networks against bicubic upscaling, and
the realistic x4 network on real-world degradations.

Usage: python benchmarks/superres.py [--data ../shared/data] [--limit N]
           [--sheet sheet.png] [--cards plugins/superres/restore_superres/weights]
           [--gan-weights real-x4-gan.safetensors]

Held-out photos: the 5 % of the super-resolution recipes' training folders that
training never sees (`restore.lab.training.held_out`), centre-cropped to
at most 256 x 256, sides a multiple of 4. The field's conventions: the low-resolution
input is the antialiased bicubic downscale (Pillow's, as MATLAB's `imresize`);
PSNR, SSIM and GMSD (lower is better) on Y of YCbCr (BT.601, 16-235), `scale`
pixels cropped from each border. The same on scikit-image's classic test photos
(`common.CLASSIC`, whole, cropped to a multiple of 4), which no training saw. For
each scale: bicubic upscaling (Pillow) and the network (its shipped weights; left
out, with the reason printed, without them), with megapixels of output per second.
Then real-world x4: the held-out photos through the realistic recipe's second-order
degradation (blur, resize, noise, JPEG, twice; seed = the photo's index), upscaled
by bicubic, the fidelity x4 network, the shipped realistic network (L1) and the
same fine-tuning with ESRGAN's relativistic GAN term (`--gan-weights`, from
`restore train superres.real_x4-gan`): what the adversarial term adds is the
difference of the last two.
`--sheet` writes, at x4, for 2 photos each with the bicubic and the real-world
input: the input (nearest upscale), bicubic, the fidelity network, the realistic
network and the original; then real small photos (LFW faces, 250 px JPEGs, no
original): bicubic, the fidelity network, the realistic network. `--cards` writes the
tables into a model card beside each weights manifest in that folder.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from restore_superres.learned import (
    SuperRes,
    SuperResParams,
    SuperResRealX4,
    SuperResX2,
    SuperResX4,
)
from restore_superres.recipes import REAL_WORLD_X4, REALISTIC_GAN, RECIPES

from restore.api.errors import RestoreError
from restore.api.weights import Manifest, read_manifest
from restore.engine.tiling import TileOptions, run_stage
from restore.io.files import discover
from restore.io.images import read_image, write_image
from restore.lab.data import default_data_root
from restore.lab.degrade import antialiased_resize
from restore.lab.export import write_model_cards
from restore.lab.metrics import describe_convention, gmsd, psnr, ssim

from common import Timed, centre, classic_photos, held_out_files, table

HOLDOUT = 5  # percent, as in the training recipes
CROP = 256
STAGES: dict[int, type[SuperRes]] = {2: SuperResX2, 4: SuperResX4}
STAGES_BY_NAME = {stage.name: stage for stage in STAGES.values()}
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


def network(stage: type[SuperRes], weights: Path | None = None) -> Method:
    """``stage`` (its shipped weights, or ``weights``) through the tiler, default tiles."""
    instance, params = stage(torch.device("cpu")), SuperResParams(weights=weights)
    return lambda low: run_stage(instance, {"image": low}, params, TileOptions())["image"]


def scores(
    method: Method, lows: list[np.ndarray], photos: list[np.ndarray], scale: int
) -> dict[str, float]:
    """Mean Y-PSNR, Y-SSIM and GMSD (border ``scale``) of ``method`` on ``lows`` against
    ``photos``, and output megapixels per second."""
    timed = Timed()
    pairs = [(timed(method, low), photo) for low, photo in zip(lows, photos, strict=True)]
    return {
        "PSNR (Y)": float(np.mean([psnr(r, p, convention="y", border=scale) for r, p in pairs])),
        "SSIM (Y)": float(np.mean([ssim(r, p, convention="y", border=scale) for r, p in pairs])),
        "GMSD": float(np.mean([gmsd(r, p, border=scale) for r, p in pairs])),
        "MP/s out": timed.speed * scale**2,
    }


def score_rows(
    available: dict[str, Method], photos: list[np.ndarray]
) -> dict[str, dict[str, float]]:
    """Bicubic and each available fidelity network, at each scale, on ``photos``."""
    found: dict[str, dict[str, float]] = {}
    for scale, stage in STAGES.items():
        lows = [shrink(photo, scale) for photo in photos]
        found[f"x{scale} bicubic"] = scores(bicubic(scale), lows, photos, scale)
        if stage.name in available:
            found[f"x{scale} {stage.name}"] = scores(available[stage.name], lows, photos, scale)
    return found


def real_world(photos: list[np.ndarray]) -> list[np.ndarray]:
    """The realistic recipe's x4 degradation of each photo (seed: its index)."""
    return [REAL_WORLD_X4.apply(photo, index).image for index, photo in enumerate(photos)]


def real_world_rows(
    available: dict[str, Method], photos: list[np.ndarray]
) -> dict[str, dict[str, float]]:
    """Bicubic and each available x4 network on the real-world degradation of ``photos``."""
    lows = real_world(photos)
    methods = {"bicubic": bicubic(4), **available}
    return {
        f"x4 {name}": scores(method, lows, photos, 4)
        for name, method in methods.items()
        if name not in (SuperResX2.name,)
    }


def loaded(stages: dict[str, tuple[type[SuperRes], Path | None]]) -> dict[str, Method]:
    """The networks that load (each left out, with the reason printed, when it does not)."""
    available: dict[str, Method] = {}
    for name, (stage, weights) in stages.items():
        try:
            method = network(stage, weights)
            method(np.zeros((16, 16, 3), np.float32))
            available[name] = method
        except RestoreError as error:
            print(f"left out {name}: {error}")
    return available


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_root())
    parser.add_argument("--limit", type=int, default=60, help="held-out photos")
    parser.add_argument("--sheet", type=Path, default=None, help="contact sheet PNG")
    parser.add_argument(
        "--cards", type=Path, help="write a model card beside each manifest in this folder"
    )
    parser.add_argument(
        "--gan-weights", type=Path, help=f"weights of `restore train {REALISTIC_GAN.name}`"
    )
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    photos = held_out_photos(args.data, args.limit)
    if not photos:
        raise SystemExit(f"no held-out photos under {args.data}")
    print(f"{len(photos)} held-out photos, at most {CROP} x {CROP}")
    candidates: dict[str, tuple[type[SuperRes], Path | None]] = {
        stage.name: (stage, None) for stage in STAGES.values()
    }
    candidates[SuperResRealX4.name] = (SuperResRealX4, None)
    if args.gan_weights is not None:
        candidates[REALISTIC_GAN.name] = (SuperResRealX4, args.gan_weights)
    available = loaded(candidates)
    fidelity = {name: available[name] for name in STAGES_BY_NAME if name in available}
    convention = f"{describe_convention('y', 4)}; x2: border 2; GMSD on Y, lower is better"
    classics = classic_photos()
    classic = [multiple_of_4(photo) for photo in classics.values()]
    text = "\n\n".join(
        table(f"Super-resolution, {title} ({convention})", score_rows(fidelity, chosen))
        for title, chosen in (
            (f"{len(photos)} held-out photos", photos),
            (f"scikit-image's classic photos ({', '.join(classics)})", classic),
        )
    )
    realistic = {name: m for name, m in available.items() if name != SuperResX2.name}
    text += "\n\n" + table(
        f"Super-resolution x4 of real-world degradations of the {len(photos)} held-out photos "
        f"(Real-ESRGAN's second-order degradation, `{REAL_WORLD_X4.name}`; {convention})",
        real_world_rows(realistic, photos),
    )
    if args.gan_weights is not None:
        text += (
            f"\n\n`{REALISTIC_GAN.name}`: the same fine-tuning plus a relativistic average "
            f"GAN term, weights `{args.gan_weights}` (not shipped), made by "
            f"`{read_manifest(args.gan_weights).training.command}`."
        )
    if args.sheet is not None and SuperResX4.name in available:
        write_sheet(args.sheet, photos, realistic, args.data)
        text += f"\n\nContact sheet: `{args.sheet}`"
    if args.cards is not None:
        write_cards(args.cards, text, len(photos))


def as_rgb(image: np.ndarray) -> np.ndarray:
    """Gray repeated to three channels, so the sheet's rows stack."""
    return np.repeat(image, 3, 2) if image.shape[2] == 1 else image


def padded_row(images: list[np.ndarray], width: int) -> np.ndarray:
    """``images`` side by side (gray as RGB), padded with white to ``width``."""
    row = np.hstack([as_rgb(image) for image in images])
    return np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=1)


def write_sheet(path: Path, photos: list[np.ndarray], x4: dict[str, Method], root: Path) -> None:
    """x4 rows, for 2 held-out photos with the bicubic then the real-world input: nearest
    | bicubic | each network | original (256 px each); then real small photos' centre
    96 px: bicubic | each network (384 px each)."""
    methods = [bicubic(4), *x4.values()]
    width = CROP * (len(methods) + 2)
    chosen = [p for p in photos if p.shape[:2] == (CROP, CROP)][:2]
    rows = []
    for lows in ([shrink(photo, 4) for photo in chosen], real_world(chosen)):
        for low, photo in zip(lows, chosen, strict=True):
            nearest = np.repeat(np.repeat(low, 4, axis=0), 4, axis=1)
            rows.append(padded_row([nearest, *(m(low) for m in methods), photo], width))
    for file in [f.path for f in discover(root / REAL_SMALL)][::401][:2]:
        small = centre(read_image(file).pixels, 96)
        if small.shape[:2] == (96, 96):
            rows.append(padded_row([m(small) for m in methods], width))
    write_image(path, np.clip(np.vstack(rows), 0, 1))
    print(f"contact sheet -> {path}, columns: bicubic, {', '.join(x4)}")


LIMITATIONS = """Trained on CPU (see Training for the time) on BSDS, Sun-Hays
and BSD400 photos, small networks: judged from the classic photos (Set5 is not
here), the x4 fidelity model is likely short of SRCNN's published Set5 level.
The fidelity models (L1 only) undo an antialiased bicubic downscale; real small
photos are also blurred, noisy and compressed, which is the realistic model's
work. The realistic model has no perceptual loss: no pretrained feature network
can be downloaded here. The held-out photos come from the same collections as
the training photos."""
RECIPE_OF = {recipe.name: recipe for recipe in RECIPES}


def describe(manifest: Manifest) -> str:
    """The card's opening: the stage and what its recipe trained (from the command)."""
    recipe = RECIPE_OF[manifest.training.command.split()[2]]
    gan = " plus a relativistic average GAN term" if recipe.adversarial else ""
    return (
        f"Super-resolution for `{manifest.stage}`: a light residual-in-residual dense "
        f"network (ESRGAN's RRDB family), {recipe.description} (recipe `{recipe.name}`, "
        f"loss L1{gan})."
    )


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
        describe,
        {"Benchmark": benchmark, "Limitations": LIMITATIONS},
    )


if __name__ == "__main__":
    main()
