"""Lettering that belongs to a picture: shop signs, captions and handwritten names.

Old prints often carry writing (names on the mount, signs in the street), which
a damage detector must leave alone: ``draw_lettering`` paints random words in
OpenCV's Hershey fonts (plain, serif and script), dark or light, sometimes
tilted, onto an image, so recipes can show detectors text that is not damage.
"""

from __future__ import annotations

import cv2
import numpy as np

from restore.api.color import luma
from restore.lab.steps import Array, Generator

FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
)
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789&.,-'"


def _words(rng: Generator) -> str:
    """One to four random words of 2 to 9 characters."""
    count = int(rng.integers(1, 5))
    return " ".join(
        "".join(rng.choice(list(LETTERS), int(rng.integers(2, 10)))) for _ in range(count)
    )


def draw_lettering(image: Array, rng: Generator, lines: int) -> None:
    """Paint ``lines`` lines of random text onto ``image`` (H x W x C in [0, 1]) in place.

    Capitals are 6 px to a sixth of the shorter side high, strokes 1/16 to 1/6 of
    that, ink dark (0.02-0.3) or, one time in three, light (0.8-1), 70-100 % opaque,
    tilted by up to 20 degrees half of the time.
    """
    height, width = image.shape[:2]
    for _ in range(lines):
        font = FONTS[int(rng.integers(len(FONTS)))]
        text = _words(rng)
        size = rng.uniform(6, max(7.0, min(height, width) / 6))
        (_, text_height), _ = cv2.getTextSize("H", font, 1.0, 1)
        scale = size / max(text_height, 1)
        thickness = max(1, round(size * rng.uniform(1 / 16, 1 / 6)))
        origin = (int(rng.integers(-width // 4, width)), int(rng.integers(0, height + size)))
        canvas: Array = np.zeros((height, width), np.uint8)
        cv2.putText(canvas, text, origin, font, scale, 255, thickness, cv2.LINE_AA)
        if rng.random() < 0.5:
            angle = rng.uniform(-20, 20)
            turn = cv2.getRotationMatrix2D((float(origin[0]), float(origin[1])), angle, 1.0)
            canvas = cv2.warpAffine(canvas, turn, (width, height), flags=cv2.INTER_LINEAR)
        light = rng.random() < 1 / 3
        level = rng.uniform(0.8, 1.0) if light else rng.uniform(0.02, 0.3)
        ink = np.full(image.shape[2], level, np.float32)
        if image.shape[2] == 3:  # ink with a slight colour, judged as its luma by detectors
            ink = np.clip(ink + rng.normal(0, 0.05, 3), 0, 1).astype(np.float32)
            ink *= level / max(float(luma(ink[None, None])[0, 0, 0]), 1e-3)
        alpha = canvas.astype(np.float32) / 255 * rng.uniform(0.7, 1.0)
        image += alpha[..., None] * (np.clip(ink, 0, 1) - image)
