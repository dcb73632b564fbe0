"""How far bfloat16 inference moves the learned denoisers' output from float32.

Usage: python benchmarks/precision.py

On two photos shipped with scikit-image (astronaut, RGB 512 x 512; camera, gray
512 x 512) with sigma-25 noise, each learned stage runs with the default tile in
float32 and in bfloat16 autocast; the table gives the difference in 8-bit steps
(max, mean, share of 8-bit values that change) and in 16-bit steps (mean).
"""

from __future__ import annotations

import numpy as np
import torch
from skimage import data

from restore.app.registry import Registry
from restore.engine.tiling import TileOptions, run_stage
from restore.lab.degrade import load_recipe

STAGES = ("denoise.dncnn", "denoise.mwcnn")
PHOTOS = {"astronaut (RGB)": data.astronaut, "camera (gray)": lambda: data.camera()[..., None]}


def main() -> None:
    registry = Registry.from_entry_points({"RESTORE_PLUGINS": "denoise"})
    print(f"torch threads: {torch.get_num_threads()}")
    print("| stage | photo | max (8-bit) | mean (8-bit) | 8-bit values changed | mean (16-bit) |")
    print("|---|---|---|---|---|---|")
    for name in STAGES:
        stage = registry.stages[name](torch.device("cpu"))
        for label, photo in PHOTOS.items():
            noisy = load_recipe("noise-25").apply(photo().astype(np.float32) / 255, 0).image
            outputs = [
                run_stage(stage, {"image": noisy}, stage.Params(), TileOptions(precision=p))
                for p in ("float32", "bfloat16")
            ]
            full, half = (out["image"] for out in outputs)
            error = np.abs(full - half)
            changed = np.mean(np.round(full * 255) != np.round(half * 255))
            print(
                f"| {name} | {label} | {error.max() * 255:.2f} | {error.mean() * 255:.3f} | "
                f"{changed:.1%} | {error.mean() * 65535:.1f} |"
            )


if __name__ == "__main__":
    main()
