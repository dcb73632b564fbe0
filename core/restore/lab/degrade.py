"""Seeded, composable degradations of float images, and named recipes of them.

Images are float32 H x W x C (C 1 or 3) in [0, 1]; every step also carries an
H x W float32 damage mask (1 where damage was drawn). A parameter typed
``Span`` is a number or a ``[low, high]`` pair sampled uniformly on each call.
Relative data paths (blur kernels, film-damage overlays) are resolved against
the data root: ``load_recipe(..., data=)``, else ``restore.lab.data.default_data_root()``.
The ``Step`` base is in ``restore.lab.steps``, print damage in ``restore.lab.print_damage``.
See docs/degradations.md.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, cast

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from restore.api.color import luma
from restore.api.errors import PipelineError, RestoreError
from restore.api.kernels import disk_kernel, gaussian_kernel, motion_kernel
from restore.engine.config import load_yaml
from restore.lab.data import default_data_root
from restore.lab.lettering import draw_lettering
from restore.lab.print_damage import (
    Cracks,
    Crazing,
    PrintDamage,
    PrintScratches,
    TornEdges,
    WaterStains,
)
from restore.lab.steps import (
    Array,
    Generator,
    IntSpan,
    Result,
    Span,
    Step,
    sample,
    sample_int,
    span,
    visible,
)

_GAMMA = 2.2


def _resolve(path: str) -> Path:
    resolved = Path(path).expanduser()
    return resolved if resolved.is_absolute() else default_data_root() / resolved


def _convolve(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """True convolution (flipped kernel), reflected borders, shape kept."""
    flipped = np.ascontiguousarray(kernel[::-1, ::-1], dtype=np.float32)
    out = cv2.filter2D(image, -1, flipped, borderType=cv2.BORDER_REFLECT_101)
    return out.reshape(image.shape)


@lru_cache(maxsize=16)
def load_kernels(root: Path) -> tuple[np.ndarray, ...]:
    """Kernels (each summing to 1) from a .npy (k x k or N x k x k), a PNG, or a folder of them.

    PNG kernels stored as RGB with equal channels are averaged to gray.
    """
    if root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".png", ".npy"))
    elif root.is_file():
        files = [root]
    else:
        raise RestoreError(f"{root}: blur kernel file or folder not found")
    kernels = []
    for file in files:
        if file.suffix.lower() == ".npy":
            array = np.load(file).astype(np.float64)
            kernels += list(array[None] if array.ndim == 2 else array)
        else:
            array = np.asarray(Image.open(file), dtype=np.float64)
            kernels.append(array.mean(axis=2) if array.ndim == 3 else array)
    if not kernels:
        raise RestoreError(f"{root}: no .png or .npy blur kernels found")
    return tuple((k / k.sum()).astype(np.float32) for k in kernels)


class GaussianNoise(Step):
    """Additive white Gaussian noise; sigma in 8-bit units."""

    kind: Literal["gaussian_noise"] = "gaussian_noise"
    sigma: Annotated[Span, span(0, 255)] = 25.0
    clip: bool = True
    quantize: bool = True

    def run(self, image: Array, mask: Array, rng: Generator) -> Result:
        sigma = sample(rng, self.sigma)
        out = image + rng.standard_normal(image.shape, dtype=np.float32) * np.float32(sigma / 255)
        if self.clip:
            out = np.clip(out, 0, 1)
        if self.quantize:
            out = np.round(out * 255) / np.float32(255)
        return out, mask, {"sigma": sigma}


class PoissonGaussian(Step):
    """Sensor noise on linearised values: shot noise (``photons`` at white) plus read noise."""

    kind: Literal["poisson_gaussian"] = "poisson_gaussian"
    photons: Annotated[Span, span(1, 1e6)] = (20.0, 400.0)
    read_sigma: Annotated[Span, span(0, 0.5)] = (0.0, 0.02)
    linearize: bool = True

    def run(self, image: Array, mask: Array, rng: Generator) -> Result:
        photons, read = sample(rng, self.photons), sample(rng, self.read_sigma)
        linear = image.astype(np.float64) ** _GAMMA if self.linearize else image
        noisy = rng.poisson(linear * photons) / photons + rng.normal(0, read, image.shape)
        noisy = np.clip(noisy, 0, 1)
        out = noisy ** (1 / _GAMMA) if self.linearize else noisy
        return out.astype(np.float32), mask, {"photons": photons, "read_sigma": read}


class FilmGrain(Step):
    """Monochrome grain: Gaussian-blurred noise of unit std, strongest in the midtones."""

    kind: Literal["film_grain"] = "film_grain"
    strength: Annotated[Span, span(0, 1)] = (0.02, 0.06)
    size: Annotated[Span, span(0, 10)] = (0.5, 1.5)

    def run(self, image: Array, mask: Array, rng: Generator) -> Result:
        strength, size = sample(rng, self.strength), sample(rng, self.size)
        grain = rng.standard_normal(image.shape[:2], dtype=np.float32)
        if size > 0:
            # OpenCV's stubs type every result as integer-or-float; blurring keeps float32.
            blurred = cv2.GaussianBlur(grain, (0, 0), size, borderType=cv2.BORDER_REFLECT_101)
            grain = cast(npt.NDArray[np.float32], blurred)
            grain /= grain.std() + 1e-8
        y = luma(image)
        out = np.clip(image + strength * 4 * y * (1 - y) * grain[..., None], 0, 1)
        return out.astype(np.float32), mask, {"strength": strength, "size": size}


class GaussianBlur(Step):
    """Isotropic Gaussian blur."""

    kind: Literal["gaussian_blur"] = "gaussian_blur"
    sigma: Annotated[Span, span(0, 20)] = (0.5, 2.0)

    def run(self, image: Array, mask: Array, rng: Generator) -> Result:
        sigma = sample(rng, self.sigma)
        return _convolve(image, gaussian_kernel(sigma)), mask, {"sigma": sigma}


class DefocusBlur(Step):
    """Out-of-focus blur: a uniform disk."""

    kind: Literal["defocus_blur"] = "defocus_blur"
    radius: Annotated[Span, span(0, 30)] = (1.0, 4.0)

    def run(self, image: Array, mask: Array, rng: Generator) -> Result:
        radius = sample(rng, self.radius)
        return _convolve(image, disk_kernel(radius)), mask, {"radius": radius}


class MotionBlur(Step):
    """Linear camera shake: a line of ``length`` px at ``angle`` degrees."""

    kind: Literal["motion_blur"] = "motion_blur"
    length: Annotated[Span, span(1, 100)] = (5.0, 21.0)
    angle: Annotated[Span, span(-360, 360)] = (0.0, 180.0)

    def run(self, image: Array, mask: Array, rng: Generator) -> Result:
        length, angle = sample(rng, self.length), sample(rng, self.angle)
        out = _convolve(image, motion_kernel(length, angle))
        return out, mask, {"length": length, "angle": angle}


class KernelBlur(Step):
    """Blur with a kernel drawn at random from a .npy file, a PNG or a folder of them."""

    kind: Literal["kernel_blur"] = "kernel_blur"
    path: str = Field(min_length=1, description="relative paths are under the data root")

    def run(self, image: Array, mask: Array, rng: Generator) -> Result:
        kernels = load_kernels(_resolve(self.path))
        index = int(rng.integers(len(kernels)))
        return _convolve(image, kernels[index]), mask, {"kernel": index}


class Jpeg(Step):
    """JPEG compression at a quality (1-100), via OpenCV; 4:2:0 chroma for RGB.

    ``grid_shift``: the image is first moved down and right by up to this many pixels
    (edge-replicated, then cropped back), so a second compression's 8 x 8 blocks miss
    the first one's. ``probability``: the chance the step runs at all.
    """

    kind: Literal["jpeg"] = "jpeg"
    quality: Annotated[IntSpan, span(1, 100)] = 50
    grid_shift: Annotated[IntSpan, span(0, 7)] = 0
    probability: float = Field(default=1.0, ge=0, le=1)

    def run(self, image: Array, mask: Array, rng: Generator) -> Result:
        if self.probability < 1 and rng.random() >= self.probability:
            return image, mask, {"quality": None}
        quality = sample_int(rng, self.quality)
        down, right = sample_int(rng, self.grid_shift), sample_int(rng, self.grid_shift)
        height, width = image.shape[:2]
        shifted = np.pad(image, ((down, 0), (right, 0), (0, 0)), mode="edge")
        samples = np.round(np.clip(shifted, 0, 1) * 255).astype(np.uint8)
        if samples.shape[2] == 3:
            samples = samples[..., ::-1]
        ok, data = cv2.imencode(".jpg", samples, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RestoreError("JPEG encoding failed")
        decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if decoded is None:
            raise RestoreError("JPEG decoding failed")
        decoded = decoded.reshape(shifted.shape)[down : down + height, right : right + width]
        if image.shape[2] == 3:
            decoded = decoded[..., ::-1]
        out = np.ascontiguousarray(decoded, dtype=np.float32) / 255
        return out, mask, {"quality": quality, "grid_shift": (down, right)}


class Downscale(Step):
    """Downscale by ``factor``; ``restore_size`` upsamples back (bicubic) to the input size.

    ``method``: OpenCV's ``bicubic`` (no antialiasing) or ``area``, or ``antialiased``:
    bicubic with the kernel widened by the factor, as MATLAB's ``imresize`` and
    Pillow's resize do (how super-resolution benchmarks make their inputs).
    """

    kind: Literal["downscale"] = "downscale"
    factor: int = Field(default=2, ge=2, le=4)
    method: Literal["bicubic", "area", "antialiased"] = "bicubic"
    restore_size: bool = False

    def run(self, image: Array, mask: Array, rng: Generator) -> Result:
        height, width = image.shape[:2]
        size = (max(1, width // self.factor), max(1, height // self.factor))
        out = resized(image, size, self.method)
        if self.restore_size:
            out = cv2.resize(out, (width, height), interpolation=cv2.INTER_CUBIC)
            out = out.reshape(image.shape)
        else:  # a low-resolution pixel is damaged if any pixel it covers was
            mask = (cv2.resize(mask, size, interpolation=cv2.INTER_AREA) > 0).astype(np.float32)
        return np.clip(out, 0, 1), mask, {}


ResizeMethod = Literal["area", "bilinear", "bicubic", "antialiased"]
_CV2_METHODS = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}


def resized(image: Array, size: tuple[int, int], method: ResizeMethod) -> Array:
    """H x W x C ``image`` resized to ``size`` (width, height) by ``method``."""
    if method == "antialiased":
        return antialiased_resize(image, size)
    out = cv2.resize(image, size, interpolation=_CV2_METHODS[method])
    return np.asarray(out, np.float32).reshape(size[1], size[0], image.shape[2])


class Resize(Step):
    """Rescale by a factor drawn from ``scale``, by a method drawn from ``methods`` (a
    camera's, an editor's or a website's resampling), with chance ``probability``. The
    mask follows (a pixel is damaged if it saw any damage)."""

    kind: Literal["resize"] = "resize"
    scale: Annotated[Span, span(0.05, 4)] = (0.5, 1.5)
    methods: tuple[ResizeMethod, ...] = Field(default=("area", "bilinear", "bicubic"), min_length=1)
    probability: float = Field(default=1.0, ge=0, le=1)

    def run(self, image: Array, mask: Array, rng: Generator) -> Result:
        if self.probability < 1 and rng.random() >= self.probability:
            return image, mask, {"scale": None}
        factor = sample(rng, self.scale)
        method = self.methods[int(rng.integers(len(self.methods)))]
        height, width = image.shape[:2]
        size = (max(1, round(width * factor)), max(1, round(height * factor)))
        out = np.clip(resized(image, size, method), 0, 1)
        damage = cv2.resize(mask, size, interpolation=cv2.INTER_AREA) > 0
        return out, damage.astype(np.float32), {"scale": factor, "method": method}


def antialiased_resize(image: Array, size: tuple[int, int]) -> Array:
    """H x W x C float ``image`` resized to ``size`` (width, height) by Pillow's bicubic
    filter, antialiased when shrinking (float32 per channel, no 8-bit rounding)."""
    planes = [
        np.asarray(Image.fromarray(image[..., c]).resize(size, Image.Resampling.BICUBIC))
        for c in range(image.shape[2])
    ]
    return np.stack(planes, axis=2).astype(np.float32)


class Grayscale(Step):
    """BT.601 luma, as 1 channel or repeated to 3."""

    kind: Literal["grayscale"] = "grayscale"
    channels: Literal[1, 3] = 3

    def run(self, image: Array, mask: Array, rng: Generator) -> Result:
        gray = luma(image)
        return (np.repeat(gray, 3, axis=2) if self.channels == 3 else gray), mask, {}


class PrintLike(Step):
    """A clean photo as an old print: gray or sepia, faded, grain, slight blur, JPEG; with
    ``lettering_probability``, first some writing on it (signs, names: not damage)."""

    kind: Literal["print_like"] = "print_like"
    sepia_probability: float = Field(default=0.6, ge=0, le=1)  # RGB only; else neutral gray
    sepia: Annotated[Span, span(0, 1)] = (0.4, 1.0)  # strength of the toning
    black: Annotated[Span, span(0, 0.5)] = (0.0, 0.1)  # faded black level
    white: Annotated[Span, span(0.5, 1)] = (0.88, 1.0)  # faded white level
    grain: Annotated[Span, span(0, 1)] = (0.01, 0.04)
    grain_size: Annotated[Span, span(0, 10)] = (0.5, 1.3)
    blur: Annotated[Span, span(0, 20)] = (0.3, 1.0)
    quality: Annotated[IntSpan, span(1, 100)] = (50, 95)
    lettering_probability: float = Field(default=0.3, ge=0, le=1)
    lettering: Annotated[IntSpan, span(0, 20)] = (1, 4)  # lines of text, when drawn

    def run(self, image: Array, mask: Array, rng: Generator) -> Result:
        lines = sample_int(rng, self.lettering) if rng.random() < self.lettering_probability else 0
        if lines:
            image = image.copy()
            draw_lettering(image, rng, lines)
        black, white = sample(rng, self.black), sample(rng, self.white)
        out = black + (white - black) * luma(image)
        toned, strength = rng.random() < self.sepia_probability, sample(rng, self.sepia)
        if image.shape[2] == 3:
            if toned:  # brown mid-tones and cream highlights; black stays black
                gamma = 1 + strength * np.array([-0.15, 0.0, 0.35], np.float32)
                paper = 1 - strength * np.array([0.0, 0.03, 0.1], np.float32)
                out = out**gamma * paper
            else:
                out = np.repeat(out, 3, axis=2)
        info: dict[str, Any] = {
            "lettering": lines,
            "black": black,
            "white": white,
            "sepia": strength if toned else 0,
        }
        for step in (
            FilmGrain(strength=self.grain, size=self.grain_size),
            GaussianBlur(sigma=self.blur),
            Jpeg(quality=self.quality),
        ):
            out, mask, sampled = step.run(out.astype(np.float32), mask, rng)
            info |= {f"{step.kind}_{key}": value for key, value in sampled.items()}
        return out, mask, info


@lru_cache(maxsize=16)
def _overlay_files(folder: Path) -> dict[str, tuple[str, ...]]:
    """PNG overlays per type (sub-folder) under ``root``."""
    if not folder.is_dir():
        raise RestoreError(f"{folder}: film-damage overlay folder not found (see --data)")
    found = {
        sub.name: tuple(str(p) for p in sorted(sub.glob("*.png")))
        for sub in sorted(folder.iterdir())
        if sub.is_dir()
    }
    return {name: files for name, files in found.items() if files}


@lru_cache(maxsize=4096)
def _overlay(path: str) -> np.ndarray:
    """An overlay as uint8 RGBA (cached: a few hundred KB each, about 2,300 in the data)."""
    with Image.open(path) as image:
        if "A" not in image.getbands():
            raise RestoreError(f"{path}: film-damage overlay has no alpha channel")
        return np.asarray(image.convert("RGBA"))


class FilmDamage(Step):
    """Real film-damage overlays composited at random places; the mask is alpha > threshold
    and, with ``min_change`` > 0, only where the overlay visibly changed the picture."""

    kind: Literal["film_damage"] = "film_damage"
    path: str = Field(default="film_damage_overlays", min_length=1)
    types: list[str] | None = Field(default=None, min_length=1, description="default: all")
    count: Annotated[IntSpan, span(0, 100)] = (2, 8)
    opacity: Annotated[Span, span(0, 1)] = (0.6, 1.0)
    scale: Annotated[Span, span(0.01, 4)] = (0.3, 1.0)  # overlay side / image's longer side
    dark_probability: float = Field(default=0.0, ge=0, le=1)  # draw 1 - colour instead
    threshold: float = Field(default=0.1, gt=0, lt=1)
    min_change: float = Field(default=0.0, ge=0, lt=1)  # smallest change that counts

    def run(self, image: Array, mask: Array, rng: Generator) -> Result:
        root = _resolve(self.path)
        available = _overlay_files(root)
        types = self.types or sorted(available)
        missing = [t for t in types if t not in available]
        if missing or not types:
            raise RestoreError(f"{root}: no overlay folder(s) {', '.join(missing) or '(any)'}")
        out, alpha = image.copy(), np.zeros(image.shape[:2], np.float32)
        drawn = []
        for _ in range(sample_int(rng, self.count)):
            kind = types[int(rng.integers(len(types)))]
            files = available[kind]
            overlay = _overlay(files[int(rng.integers(len(files)))])
            opacity, dark = sample(rng, self.opacity), rng.random() < self.dark_probability
            self._composite(out, alpha, overlay, rng, opacity, dark)
            drawn.append(kind)
        hit = alpha > self.threshold
        if self.min_change > 0:
            hit &= visible(image, out, self.min_change)
        return out, np.maximum(mask, hit.astype(np.float32)), {"overlays": drawn}

    def _composite(
        self,
        out: np.ndarray,
        alpha: np.ndarray,
        overlay: np.ndarray,
        rng: np.random.Generator,
        opacity: float,
        dark: bool,
    ) -> None:
        """Draw one overlay into ``out`` and ``alpha`` in place (premultiplied "over")."""
        height, width = out.shape[:2]
        overlay = overlay.astype(np.float32) / 255
        overlay[..., :3] *= overlay[..., 3:]  # premultiplied, so resampling keeps edges clean
        scale = sample(rng, self.scale) * max(height, width) / max(overlay.shape[:2])
        if scale < 1:
            size = (
                max(2, round(overlay.shape[1] * scale)),
                max(2, round(overlay.shape[0] * scale)),
            )
            scale *= overlay.shape[1] / size[0]
            overlay = cv2.resize(overlay, size, interpolation=cv2.INTER_AREA)
        angle, flip = math.radians(rng.uniform(0, 360)), rng.random() < 0.5
        centre = np.array([rng.uniform(0, width), rng.uniform(0, height)])
        cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
        matrix = np.array([[cos, -sin], [sin, cos]]) @ np.diag([-1.0 if flip else 1.0, 1.0])
        origin = (np.array(overlay.shape[1::-1]) - 1) / 2
        offset = centre - matrix @ origin
        corners = np.array([[0, 0], [1, 0], [0, 1], [1, 1]]) * (np.array(overlay.shape[1::-1]))
        placed = corners @ matrix.T + offset
        x0, y0 = np.maximum(np.floor(placed.min(axis=0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(placed.max(axis=0)).astype(int) + 2, [width, height])
        if x1 <= x0 or y1 <= y0:
            return
        affine = np.hstack([matrix, (offset - [x0, y0])[:, None]]).astype(np.float32)
        warped = cv2.warpAffine(
            overlay, affine, (int(x1 - x0), int(y1 - y0)), flags=cv2.INTER_LINEAR
        )
        a = warped[..., 3:] * np.float32(opacity)
        colour = warped[..., :3] * np.float32(opacity)
        if dark:
            colour = a - colour
        if out.shape[2] == 1:
            colour = luma(colour)
        region = out[y0:y1, x0:x1]
        region *= 1 - a
        region += colour
        alpha[y0:y1, x0:x1] = 1 - (1 - alpha[y0:y1, x0:x1]) * (1 - a[..., 0])


Degradation = Annotated[
    GaussianNoise
    | PoissonGaussian
    | FilmGrain
    | GaussianBlur
    | DefocusBlur
    | MotionBlur
    | KernelBlur
    | Jpeg
    | Downscale
    | Resize
    | Grayscale
    | PrintLike
    | FilmDamage
    | Cracks
    | TornEdges
    | Crazing
    | WaterStains
    | PrintScratches,
    Field(discriminator="kind"),
]


@dataclass
class Degraded:
    """A degraded image, its H x W damage mask, and what each step sampled."""

    image: np.ndarray
    mask: np.ndarray
    steps: list[dict[str, Any]]


class Recipe(BaseModel):
    """A named sequence of degradations."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    description: str = ""
    steps: list[Degradation] = Field(min_length=1)

    @property
    def makes_mask(self) -> bool:
        """Whether the recipe draws damage (and so has a meaningful mask)."""
        return any(isinstance(step, FilmDamage | PrintDamage) for step in self.steps)

    def with_data(self, root: str | Path) -> Recipe:
        """A copy whose relative data paths are resolved against ``root``."""
        steps = [
            step.model_copy(update={"path": str(Path(root).absolute() / step.path)})
            if isinstance(step, KernelBlur | FilmDamage) and not Path(step.path).is_absolute()
            else step
            for step in self.steps
        ]
        return self.model_copy(update={"steps": steps})

    def apply(self, image: np.ndarray, seed: int | np.random.Generator) -> Degraded:
        """Degrade ``image``; the same seed gives the same result bit for bit."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        image = np.asarray(image, dtype=np.float32)
        image = image[..., None] if image.ndim == 2 else image.copy()
        if image.ndim != 3 or image.shape[2] not in (1, 3):
            raise ValueError(f"expected an H x W x 1 or H x W x 3 image, got {image.shape}")
        mask = np.zeros(image.shape[:2], np.float32)
        sampled = []
        for step in self.steps:
            image, mask, info = step.run(image, mask, rng)
            sampled.append({"kind": step.kind, **info})
        return Degraded(image.astype(np.float32, copy=False), mask, sampled)


def _recipe(name: str, description: str, *steps: Degradation) -> Recipe:
    return Recipe(name=name, description=description, steps=list(steps))


PRINT_DAMAGE: tuple[Degradation, ...] = (
    WaterStains(probability=0.3),
    Crazing(probability=0.2),
    Cracks(probability=0.8, width=(1, 5)),
    Cracks(probability=0.3, count=(1, 2), width=(5, 15), branches=(0, 2), bright_probability=0.85),
    PrintScratches(probability=0.4, count=(1, 2)),
    TornEdges(probability=0.25),
    FilmDamage(count=(0, 6), dark_probability=0.4, threshold=0.3, min_change=0.05),
)
"""The damage of a scanned old print, as ``old-print`` and ``print-damage`` draw it. Film
overlays count where they are at least 30 % opaque and visibly change the picture: their
faint haze (a stain's fringe, sparse speckle) is left to the picture, not inpainted."""
SCAN: tuple[Degradation, ...] = (GaussianBlur(sigma=(0.0, 0.6)), Jpeg(quality=(60, 95)))
"""The scan of a print: slight blur and JPEG."""

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        _recipe("noise-15", "Gaussian noise sigma 15 (8-bit, clipped)", GaussianNoise(sigma=15)),
        _recipe("noise-25", "Gaussian noise sigma 25 (8-bit, clipped)", GaussianNoise(sigma=25)),
        _recipe("noise-50", "Gaussian noise sigma 50 (8-bit, clipped)", GaussianNoise(sigma=50)),
        _recipe("noise-blind", "Gaussian noise, sigma in [0, 55]", GaussianNoise(sigma=(0, 55))),
        _recipe("sensor-noise", "Poisson-Gaussian camera noise", PoissonGaussian()),
        _recipe("grain", "film grain", FilmGrain(strength=(0.03, 0.08), size=(0.6, 1.6))),
        _recipe("blur-gaussian", "Gaussian blur, sigma in [0.5, 3]", GaussianBlur(sigma=(0.5, 3))),
        _recipe("blur-motion", "random linear motion blur, 5-25 px", MotionBlur(length=(5, 25))),
        _recipe(
            "blur-kernels",
            "blur with a random real kernel from the data root's blur_kernels/",
            KernelBlur(path="blur_kernels"),
        ),
        _recipe("jpeg-20", "JPEG quality 20", Jpeg(quality=20)),
        _recipe("jpeg-blind", "JPEG quality in [10, 60]", Jpeg(quality=(10, 60))),
        _recipe(
            "jpeg-blind-double",
            "JPEG at quality 10-90; a quarter again at 10-90 on a grid moved 1-7 px",
            Jpeg(quality=(10, 90)),
            Jpeg(quality=(10, 90), grid_shift=(1, 7), probability=0.25),
        ),
        _recipe("downscale-x2", "bicubic downscale by 2 (SR input)", Downscale(factor=2)),
        _recipe("downscale-x4", "bicubic downscale by 4 (SR input)", Downscale(factor=4)),
        _recipe("gray", "grayscale (luma, 3 channels)", Grayscale()),
        _recipe(
            "old-photo",
            "old print: grayscale, mild blur, grain, dust/scratches/hair/stains (mask)",
            Grayscale(),
            GaussianBlur(sigma=(0.3, 1.2)),
            FilmGrain(strength=(0.02, 0.06), size=(0.6, 1.4)),
            FilmDamage(count=(3, 10), dark_probability=0.3),
        ),
        _recipe(
            "old-print",
            "scanned old print: print-like, cracks, folds, tears, crazing, stains, "
            "scratches and film-damage overlays (mask)",
            PrintLike(),
            *PRINT_DAMAGE,
            *SCAN,
        ),
        _recipe(
            "print-like",
            "old-print's look with no damage (empty mask): print-like, then the scan; "
            "hard negatives for damage detectors",
            PrintLike(),
            *SCAN,
        ),
        _recipe(
            "print-damage",
            "the damage of old-print alone, over the image as it is (mask): for training "
            "inpainters, whose target is the undamaged image",
            *PRINT_DAMAGE,
        ),
        _recipe("damage", "film-damage overlays only (mask)", FilmDamage(count=(2, 8))),
    )
}


def load_recipe(name_or_path: str | Path, data: str | Path | None = None) -> Recipe:
    """A built-in recipe by name or a YAML recipe file, with data paths under ``data``.

    ``data`` defaults to ``default_data_root()``. Raises a one-line PipelineError.
    """
    root = Path(data) if data is not None else default_data_root()
    key = str(name_or_path)
    if key in RECIPES:
        return RECIPES[key].with_data(root)
    path = Path(name_or_path)
    if path.suffix.lower() not in (".yaml", ".yml") and not path.exists():
        known = ", ".join(RECIPES)
        raise PipelineError([f"unknown recipe (built-in: {known}; or a .yaml file)"], key)
    raw = load_yaml(path, "a recipe must be a mapping with a 'steps' list")
    try:
        recipe = Recipe.model_validate({"name": path.stem, **raw})
    except ValidationError as error:
        problems = [
            f"{'.'.join(map(str, e['loc'])) or 'recipe'}: {e['msg']}" for e in error.errors()
        ]
        raise PipelineError(problems, path) from None
    return recipe.with_data(root)


def file_seed(seed: int, relative: str | Path) -> int:
    """The seed of one file of a folder: ``seed`` mixed with its relative path.

    ``restore degrade`` and ``restore eval`` use it, so a file gets the same
    degradation whatever the order or subset of files it is processed with.
    """
    digest = hashlib.sha256(f"{seed}:{Path(relative).as_posix()}".encode()).digest()
    return int.from_bytes(digest[:8], "big")
