"""Deblurring benchmark: the learned deblurrer, blind and given the kernel, against Wiener
and Richardson-Lucy deconvolution.

Usage: python benchmarks/deblur.py [--data ../shared/data] [--limit N]
           [--blind W.safetensors] [--kernel-aware W.safetensors] [--sheet sheet.png]
           [--cards plugins/deblur/restore_deblur/weights]

Held-out photos (the 5 % of `deblur.unet`'s training folders that training
never sees, `restore.lab.training.held_out`), each blurred whole by a kernel
of every family of the training recipes (`restore_deblur.recipes.FAMILIES`:
Gaussian sigma 1-3, defocus radius 2-6, motion 5-25 px, the data root's real
kernels centred), seeded per file and family, with Gaussian noise of sigma 2
(8-bit units, quantised), then centre-cropped to 256 x 256: crops of larger
scenes, whose blur reaches in from beyond their borders. PSNR and SSIM on
8-bit RGB (gray photos as gray) over the whole crop, border 0, per family and
their mean; speeds are megapixels per second over all of a method's runs.

Methods: the blurred input; Wiener deconvolution (`restore_deblur.deconvolution`:
replicate-tapered padding, Laplacian-plus-constant regulariser) and
Richardson-Lucy (scikit-image, on the same padded image) given the true
kernel, each at its best single balance or iteration count; blind Wiener with
the best single Gaussian (sigma and balance chosen on these very images:
generous to the baselines); `deblur.unet` blind, and with the true kernel as
its `kernel_file`. The learned rows use the shipped weights unless files are
given, and are left out (with the reason printed) without either. `--sheet`
writes, for the first image of each family: blurred, blind Wiener, Wiener
with the true kernel, the learned blind and kernel-aware results and the
reference. `--cards` writes the tables into a model card beside each weights
manifest in that folder.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from restore_deblur.deconvolution import edge_tapered, wiener
from restore_deblur.learned import LearnedDeblur, LearnedDeblurParams
from restore_deblur.recipes import DATA, FAMILIES, REAL_KERNELS, blur, real_kernels
from skimage.restoration import richardson_lucy

from restore.api.errors import RestoreError
from restore.api.kernels import gaussian_kernel
from restore.engine.tiling import TileOptions, run_stage
from restore.io.images import read_image, write_image
from restore.lab.data import default_data_root
from restore.lab.degrade import GaussianNoise, file_seed
from restore.lab.export import write_model_cards
from restore.lab.metrics import describe_convention, psnr, ssim

from common import Timed, centre, held_out_files, table

HOLDOUT = 5  # percent, as in the deblur training recipes
CROP = 256
NOISE = GaussianNoise(sigma=2)
BALANCES = (0.001, 0.002, 0.003, 0.005, 0.01, 0.02, 0.05)
ITERATIONS = (5, 10, 20, 40)
SIGMAS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
BLIND_BALANCES = (0.003, 0.01, 0.03)

Case = tuple[str, np.ndarray, np.ndarray, np.ndarray]  # family, blurred, sharp, kernel
Method = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (blurred, kernel) -> restored


def held_out_photos(root: Path, limit: int) -> list[tuple[str, np.ndarray]]:
    """The validation split of the training folders, whole."""
    return [
        (name, read_image(path).pixels) for name, path in held_out_files(root, DATA, HOLDOUT, limit)
    ]


def cases(photos: list[tuple[str, np.ndarray]], kernels: tuple[np.ndarray, ...]) -> list[Case]:
    """Every photo blurred by a seeded kernel of every family, noisy, centre-cropped."""
    made = []
    for index, family in enumerate(FAMILIES):
        for name, photo in photos:
            rng = np.random.default_rng(file_seed(index, name))
            kernel = FAMILIES[family](rng, kernels)
            blurred = NOISE.apply(blur(photo, kernel), np.zeros(photo.shape[:2], np.float32), rng)[
                0
            ]
            made.append((family, centre(blurred, CROP), centre(photo, CROP), kernel))
    return made


def unchanged(blurred: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The blurred input itself (no restoration)."""
    return blurred


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]


def _image(tensor: torch.Tensor) -> np.ndarray:
    return tensor[0].permute(1, 2, 0).clamp(0, 1).numpy()


def wiener_method(balance: float, kernel: np.ndarray | None = None) -> Method:
    """Wiener deconvolution with the true kernel, or with ``kernel`` whatever the blur."""

    def run(blurred: np.ndarray, true: np.ndarray) -> np.ndarray:
        return _image(wiener(_tensor(blurred), true if kernel is None else kernel, balance))

    return run


def richardson_lucy_method(iterations: int) -> Method:
    """Richardson-Lucy with the true kernel, per channel, on the edge-tapered padding."""

    def run(blurred: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        padded, pad = edge_tapered(_tensor(blurred), kernel)
        planes = [
            richardson_lucy(plane.numpy().astype(np.float64), kernel, iterations, clip=False)
            for plane in padded[0]
        ]
        out = np.stack(planes, axis=2)[pad:-pad, pad:-pad]
        return np.clip(out, 0, 1).astype(np.float32)

    return run


def learned(weights: Path | None, folder: Path | None) -> Method:
    """``deblur.unet`` blind, or (given a ``folder`` for the kernel files) kernel-aware."""
    stage = LearnedDeblur(torch.device("cpu"))

    def run(blurred: np.ndarray, kernel: np.ndarray) -> np.ndarray:
        kernel_file = None
        if folder is not None:
            kernel_file = folder / f"{hashlib.sha256(kernel.tobytes()).hexdigest()[:16]}.npy"
            if not kernel_file.exists():
                np.save(kernel_file, kernel)
        params = LearnedDeblurParams(weights=weights, kernel_file=kernel_file)
        return run_stage(stage, {"image": blurred}, params, TileOptions())["image"]

    return run


def available(method: Method, label: str, probe: Case) -> Method | None:
    """The method, or None (with the reason printed) when its weights are missing."""
    try:
        method(probe[1][:32, :32], probe[3])
    except RestoreError as error:
        print(f"left out {label}: {error}")
        return None
    return method


def best(methods: dict[str, Method], all_cases: list[Case]) -> tuple[str, Method]:
    """The setting (of a grid) whose method has the best mean PSNR over all the cases."""
    scores = {
        label: float(np.mean([psnr(method(b, k), s) for _, b, s, k in all_cases]))
        for label, method in methods.items()
    }
    label = max(scores, key=lambda key: scores[key])
    return label, methods[label]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_root())
    parser.add_argument("--limit", type=int, default=40, help="held-out photos")
    parser.add_argument("--blind", type=Path, default=None, help="blind weights")
    parser.add_argument("--kernel-aware", type=Path, default=None, help="kernel-aware weights")
    parser.add_argument("--sheet", type=Path, default=None)
    parser.add_argument(
        "--cards", type=Path, help="write a model card beside each manifest in this folder"
    )
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")

    photos = held_out_photos(args.data, args.limit)
    if not photos:
        raise SystemExit(f"no held-out photos under {args.data}")
    all_cases = cases(photos, real_kernels(args.data.absolute() / REAL_KERNELS))
    print(f"{len(photos)} held-out photos x {len(FAMILIES)} blur families, {CROP} px crops")

    gaussian, blind_wiener = best(
        {
            f"sigma {s:g}, balance {b:g}": wiener_method(b, gaussian_kernel(s))
            for s in SIGMAS
            for b in BLIND_BALANCES
        },
        all_cases,
    )
    balance, true_wiener = best({f"balance {b:g}": wiener_method(b) for b in BALANCES}, all_cases)
    iterations, true_rl = best(
        {f"{n} iterations": richardson_lucy_method(n) for n in ITERATIONS}, all_cases
    )
    methods: dict[str, Method] = {"blurred": unchanged}
    methods["Wiener blind"], methods["Wiener"], methods["RL"] = blind_wiener, true_wiener, true_rl
    legend = [
        "blurred: the input",
        f"Wiener blind: Wiener with the best single Gaussian for every blur ({gaussian})",
        f"Wiener: Wiener with the true kernel, best single {balance}",
        f"RL: Richardson-Lucy with the true kernel, best single {iterations}",
    ]
    with tempfile.TemporaryDirectory() as kernels:
        for label, method, meaning in (
            ("unet blind", learned(args.blind, None), "deblur.unet, blind"),
            (
                "unet kernel",
                learned(args.kernel_aware, Path(kernels)),
                "deblur.unet with the true kernel as its kernel_file",
            ),
        ):
            if (found := available(method, label, all_cases[0])) is not None:
                methods[label] = found
                legend.append(f"{label}: {meaning}")
        print("\n" + "\n".join(f"- {line}" for line in legend))
        tables, sheet = measure(methods, all_cases)
    tables = {"legend": "\n".join(f"- {line}" for line in legend), **tables}
    if args.sheet is not None:
        small = cv2.resize(sheet, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        write_image(args.sheet, small)
        tables["sheet"] = f"Contact sheet ({', '.join(methods)}, reference): `{args.sheet}`"
        print(f"\n{tables['sheet']}")
    if args.cards is not None:
        write_cards(args.cards, tables, len(photos))


def measure(methods: dict[str, Method], all_cases: list[Case]) -> tuple[dict[str, str], np.ndarray]:
    """The PSNR and SSIM tables (a row per family, their mean; a column per method; MP/s
    under PSNR), and a contact sheet of the first photo of each family."""
    timers = {label: Timed() for label in methods}
    scores: dict[str, dict[str, dict[str, list[float]]]] = {"PSNR": {}, "SSIM": {}}
    rows = []
    for index, (family, blurred, sharp, kernel) in enumerate(all_cases):
        results = [timers[label](method, blurred, kernel) for label, method in methods.items()]
        for label, result in zip(methods, results, strict=True):
            for metric, score in (("PSNR", psnr), ("SSIM", ssim)):
                per_family = scores[metric].setdefault(family, {})
                per_family.setdefault(label, []).append(score(result, sharp))
        if index % (len(all_cases) // len(FAMILIES)) == 0:
            row = np.concatenate([*results, sharp], axis=1)
            rows.append(np.repeat(row, 3, axis=2) if row.shape[2] == 1 else row)
    tables = {}
    for metric, families in scores.items():
        table_rows = {
            family: {label: float(np.mean(values)) for label, values in per_method.items()}
            for family, per_method in families.items()
        }
        table_rows["mean"] = {
            label: float(np.mean([row[label] for row in table_rows.values()])) for label in methods
        }
        if metric == "PSNR":
            table_rows["MP/s"] = {
                label: float("nan") if method is unchanged else timers[label].speed
                for label, method in methods.items()
            }
        tables[metric] = table(
            f"{metric} by blur family ({describe_convention()})",
            table_rows,
            digits=2 if metric == "PSNR" else 4,
            corner="",
        )
    width = max(row.shape[1] for row in rows)
    sheet = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows])
    return tables, sheet


DESCRIPTION = {
    False: "Learned blind deblurrer for `deblur.unet`: a residual U-Net restoring photos "
    "blurred by Gaussian, defocus, motion (up to about 25 px) or real camera-shake kernels.",
    True: "Learned artifact remover for `deblur.unet` with a `kernel_file`: a residual "
    "U-Net cleaning the ringing and noise of a Wiener deconvolution given the true kernel.",
}
LIMITATIONS = """Trained on CPU (see Training for the time) on synthetic
blur of BSDS and Sun-Hays photos: one uniform kernel per image, mild noise and
JPEG afterwards. Spatially varying blur (a rotating camera, depth of field),
saturated highlights and strong noise are outside its training. The held-out
photos come from the same collections; real blurred photos differ."""


def write_cards(folder: Path, tables: dict[str, str], count: int) -> None:
    """A model card beside each weights manifest in ``folder``, with these tables."""
    benchmark = (
        f"{count} held-out photos (5 % of the training folders, never trained on) x "
        f"{len(FAMILIES)} blur families, blurred whole and centre-cropped to {CROP} x {CROP}, "
        "noise sigma 2, seeded per file; MP/s on this project's 2-core CPU machine "
        f"(torch threads {torch.get_num_threads()}). Measured with:\n\n"
        f"```bash\npython {' '.join(sys.argv)}\n```\n\n" + "\n\n".join(tables.values())
    )
    write_model_cards(
        folder,
        lambda manifest: DESCRIPTION[bool(manifest.config.get("kernel_aware", False))],
        {"Benchmark": benchmark, "Limitations": LIMITATIONS},
    )


if __name__ == "__main__":
    main()
