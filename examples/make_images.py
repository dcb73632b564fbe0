"""Make the demo's damaged photos from images bundled with scikit-image.

Usage: python examples/make_images.py OUT_DIR

Each photo gets its own mix of damage: sensor noise, blur, JPEG compression,
dust and scratches, and a 16-bit scan, so `make demo` exercises every stage.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from skimage import data

from restore.io.images import write_image


def scratches_and_dust(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bright thin scratches and dark dust specks, drawn like damage on a print."""
    damaged = image.copy()
    height, width = image.shape[:2]
    channels = image.shape[2]
    for _ in range(4):
        x0, x1 = rng.integers(0, width, size=2)
        cv2.line(damaged, (int(x0), 0), (int(x1), height - 1), (0.95,) * channels, 1, cv2.LINE_AA)
    for _ in range(40):
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        cv2.circle(damaged, centre, int(rng.integers(1, 3)), (0.05,) * channels, -1, cv2.LINE_AA)
    return damaged


def noisy(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian noise with ``sigma`` in 8-bit units."""
    return np.clip(image + rng.normal(0, sigma / 255, image.shape), 0, 1).astype(np.float32)


def blurred(image: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur of standard deviation ``sigma`` pixels."""
    out = cv2.GaussianBlur(image, (0, 0), sigma)
    return out.reshape(image.shape)


def to_float(array: np.ndarray) -> np.ndarray:
    """uint8 H x W (x 3) to float32 H x W x C in [0, 1]."""
    array = array.astype(np.float32) / 255
    return array[:, :, None] if array.ndim == 2 else array


def main(out_dir: Path) -> None:
    rng = np.random.default_rng(2026)
    camera = to_float(data.camera())
    write_image(
        out_dir / "camera-scratched.png",
        scratches_and_dust(noisy(blurred(camera, 1.0), 12, rng), rng),
    )
    astronaut = to_float(data.astronaut())
    write_image(
        out_dir / "astronaut-noisy.jpg", noisy(blurred(astronaut, 0.8), 15, rng), quality=90
    )
    coffee = to_float(data.coffee()).mean(axis=2, keepdims=True).repeat(3, axis=2)
    write_image(
        out_dir / "scans" / "coffee-bw-as-rgb.png", scratches_and_dust(noisy(coffee, 8, rng), rng)
    )
    chelsea = to_float(data.chelsea())
    write_image(out_dir / "scans" / "chelsea-16bit.png", noisy(chelsea, 10, rng), bit_depth=16)
    print(f"wrote 4 damaged example photos to {out_dir}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
