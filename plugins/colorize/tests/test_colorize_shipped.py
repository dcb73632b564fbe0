"""The shipped scene colorizer (``colorize.global``): weights that verify, plausible colour
on photos it never saw, and the same colours for a sepia print as for a gray one. (The
confidence fallback is tested with a network that has no cues in ``test_colorize.py``;
the shipped network is confident that a flat image is sky: see its model card.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from restore.api.weights import load_weights
from restore.engine.tiling import run_stage
from restore.lab.metrics import colourfulness, psnr
from skimage import color, data

import restore_colorize
from restore_colorize.lab import rgb_to_lab
from restore_colorize.unet import GlobalColorize, GlobalColorizeParams

CPU = torch.device("cpu")
WEIGHTS = Path(restore_colorize.__file__).parent / "weights" / GlobalColorize.weights_file
# Measured on these photos: colourfulness 0.37 of the originals', +2.8 dB over the gray
# input; the sepia print's colours 1.0 a*b* unit from the gray one's (chroma about 11).
MIN_COLOURFULNESS, MIN_GAIN_DB, MAX_TONE_SHIFT = 0.25, 1.5, 2.5


def chroma_ab(image: np.ndarray) -> torch.Tensor:
    """The 2 x H x W CIELAB a*b* of an RGB image."""
    return rgb_to_lab(torch.from_numpy(image.transpose(2, 0, 1).copy())[None])[0, 1:]


def gray_of(original: np.ndarray) -> np.ndarray:
    return np.repeat(color.rgb2gray(original)[..., None], 3, axis=2).astype(np.float32)


def test_shipped_weights_verify_and_name_their_command() -> None:
    _, manifest = load_weights(WEIGHTS, expect_stage=GlobalColorize.name)
    assert manifest.architecture == GlobalColorize.network_spec.architecture
    assert manifest.training.command.startswith("restore train colorize.global ")
    assert WEIGHTS.with_suffix(".md").is_file()


def test_shipped_colorizer_colours_unseen_photos_faithfully() -> None:
    stage, scores = GlobalColorize(CPU), []
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        original = getattr(data, name)()[::2, ::2].astype(np.float32) / 255
        gray = gray_of(original)
        out = run_stage(stage, {"image": gray}, GlobalColorizeParams())["image"]
        scores.append(
            (
                colourfulness(out) / colourfulness(original),
                psnr(out, original) - psnr(gray, original),
            )
        )
    fraction, gain = np.mean(scores, axis=0)
    assert fraction > MIN_COLOURFULNESS and gain > MIN_GAIN_DB


def test_a_sepia_print_gets_the_colours_of_the_gray_one() -> None:
    gray = gray_of(data.astronaut()[::2, ::2].astype(np.float32) / 255)
    faded = 0.08 + 0.82 * gray
    sepia = faded ** (1 + 0.9 * np.array([-0.15, 0, 0.35])) * (1 - 0.9 * np.array([0, 0.03, 0.1]))
    stage, params = GlobalColorize(CPU), GlobalColorizeParams()
    colours = [
        chroma_ab(run_stage(stage, {"image": image.astype(np.float32)}, params)["image"])
        for image in (gray, sepia)
    ]
    shift = float((colours[1] - colours[0]).norm(dim=0).mean())
    assert shift < MAX_TONE_SHIFT
