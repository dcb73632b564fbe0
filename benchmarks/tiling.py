"""Time and peak memory of tiled versus whole-image runs of a small conv-net stage.

Each measurement runs in a fresh subprocess so that its peak RSS is its own.

    python benchmarks/tiling.py [--sizes 1 16 64] [--tile 512] [--whole-16]
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from restore.api.stage import Stage, StageParams, Tiling
from restore.engine.tiling import TileOptions, run_stage

LAYERS = 5  # 3x3 convolutions, so the receptive-field radius is 5


class ConvStage(Stage):
    """Five 3x3 convolutions with 32 channels and ReLUs, RGB in and out."""

    name = "bench.conv"
    tiling: ClassVar[Tiling] = Tiling(halo=LAYERS)

    def __init__(self, device: torch.device) -> None:
        super().__init__(device)
        torch.manual_seed(0)
        widths = [3] + [32] * (LAYERS - 1) + [3]
        layers: list[nn.Module] = []
        for k in range(LAYERS):
            layers += [nn.Conv2d(widths[k], widths[k + 1], 3, padding=1), nn.ReLU()]
        self.net = nn.Sequential(*layers[:-1]).eval().to(device)

    def process(self, inputs, params):
        return {"image": self.net(inputs["image"])}


def size_for(megapixels: float) -> tuple[int, int]:
    """Height and width of a 4:3 image of about ``megapixels`` million pixels."""
    width = round(math.sqrt(megapixels * 1e6 * 4 / 3))
    return round(width * 3 / 4), width


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure(megapixels: float, mode: str, tile: int) -> dict[str, float]:
    """One measurement, in this process: what the child prints."""
    stage = ConvStage(torch.device("cpu"))
    height, width = size_for(megapixels)
    array = np.random.default_rng(0).random((height, width, 3), dtype=np.float32)
    base = max_rss_mib()
    options = TileOptions(tile=tile if mode == "tiled" else 0)
    start = time.perf_counter()
    out = run_stage(stage, {"image": array}, StageParams(), options)
    seconds = time.perf_counter() - start
    assert out["image"].shape == (height, width, 3)
    return {
        "seconds": seconds,
        "peak": max_rss_mib(),
        "base": base,
        "image": array.nbytes / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 16, 64], help="megapixels")
    parser.add_argument("--tile", type=int, default=512, help="tile side for tiled runs")
    parser.add_argument("--whole-16", action="store_true", help="also run 16 MP whole-image")
    parser.add_argument("--child", nargs=2, metavar=("MP", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(float(args.child[0]), args.child[1], args.tile)))
        return

    header = (
        "MP",
        "mode",
        "seconds",
        "peak RSS MiB",
        "RSS w/ input MiB",
        "image MiB",
        "peak/image",
    )
    print("{:>5} {:>6} {:>8} {:>13} {:>17} {:>10} {:>11}".format(*header), flush=True)
    for megapixels in args.sizes:
        modes = ["tiled"]
        if megapixels <= 1 or (megapixels <= 16 and args.whole_16):
            modes.append("whole")
        for mode in modes:
            command = [sys.executable, __file__, "--child", str(megapixels), mode]
            child = subprocess.run(
                [*command, "--tile", str(args.tile)], capture_output=True, text=True
            )
            if child.returncode != 0:
                print(f"{megapixels:>5g} {mode:>6} failed: {child.stderr.strip()[-300:]}")
                continue
            r = json.loads(child.stdout.strip().splitlines()[-1])
            print(
                f"{megapixels:>5g} {mode:>6} {r['seconds']:>8.2f} {r['peak']:>13.0f} "
                f"{r['base']:>17.0f} {r['image']:>10.0f} {r['peak'] / r['image']:>11.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
