"""A contact sheet of a pipeline on real photos, for looking at (no scores).

Usage: python benchmarks/look.py PIPELINE.yaml IMAGE_OR_FOLDER [...] --out sheet.png
           [--size 640] [--set node.param=value ...] [--crop X,Y,W[,H]]

Each input is shrunk so its longer side is ``--size`` pixels (the size people
look at a whole print), run through the pipeline with the Python API (the same
runner as the CLI), and drawn as one row: the input, then every output of the
pipeline (masks in white) side by side. ``--crop`` instead takes a window of the
input at full resolution (fractions of the width and height, e.g. 0.3,0.2,0.25),
to judge eyes, hair and fine cracks. Nothing but the sheet is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from restore import Pipeline
from restore.io.files import discover
from restore.io.images import read_image, write_image

GAP = 6


def inputs(paths: list[Path]) -> list[Path]:
    """The images named, and those in the folders named, in order."""
    found = []
    for path in paths:
        found += [f.path for f in discover(path)] if path.is_dir() else [path]
    return found


def window(image: np.ndarray, size: int, crop: list[float] | None) -> np.ndarray:
    """``image`` shrunk to ``size`` on its longer side, or the ``crop`` window of it."""
    height, width = image.shape[:2]
    if crop:
        x, y, w = crop[:3]
        h = crop[3] if len(crop) > 3 else w * width / height
        x0, y0 = int(x * width), int(y * height)
        return image[y0 : y0 + max(8, int(h * height)), x0 : x0 + max(8, int(w * width))]
    scale = min(1.0, size / max(height, width))
    if scale == 1.0:
        return image
    shrunk = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return shrunk.reshape(shrunk.shape[0], shrunk.shape[1], -1)


def as_rgb(image: np.ndarray) -> np.ndarray:
    """An H x W x 3 float view of a gray, gray + alpha, RGB or RGBA image."""
    colour = image[..., :3] if image.shape[2] >= 3 else np.repeat(image[..., :1], 3, axis=2)
    return np.clip(colour, 0, 1).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline", type=Path)
    parser.add_argument("images", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--size", type=int, default=640)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--crop", type=lambda text: [float(v) for v in text.split(",")])
    args = parser.parse_args()

    pipeline = Pipeline.from_yaml(args.pipeline, overrides=args.overrides)
    rows = []
    for path in inputs(args.images):
        image = window(read_image(path).pixels, args.size, args.crop)
        result = pipeline.run(image)
        cells = [as_rgb(image)] + [as_rgb(result.outputs[name]) for name in result.outputs]
        rows.append(np.concatenate([np.pad(c, ((0, 0), (0, GAP), (0, 0))) for c in cells], 1))
        print(
            f"{path.name}: {image.shape[1]} x {image.shape[0]}, outputs {', '.join(result.outputs)}"
        )
    width = max(row.shape[1] for row in rows)
    sheet = np.concatenate([np.pad(r, ((0, GAP), (0, width - r.shape[1]), (0, 0))) for r in rows])
    write_image(args.out, sheet)
    print(f"contact sheet -> {args.out}")


if __name__ == "__main__":
    main()
