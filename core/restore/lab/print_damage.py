"""Procedural damage of scanned prints: cracks and folds, torn edges, crazing, water stains
and long white scratches, each with its ground-truth mask.

Every step draws its coverage with OpenCV at 4x resolution, box-filtered down
(exact widths, sub-pixel edges), composites it, and marks the mask where the
damage changed the picture: coverage above ``threshold`` and a change above
``min_change`` (largest channel difference). The slight side effects (darkening
beside cracks, the tint inside a water stain) change a pixel by about 0.1 at
most and are not damage. Widths are in pixels, capped at 1/12 of the shorter
side; lengths and areas scale with the image. See docs/degradations.md.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

import cv2
import numpy as np
from pydantic import Field

from restore.api.color import luma
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

_SHIFT = 4  # fractional bits of OpenCV drawing coordinates
_SCALE = 4  # canvases are drawn this many times finer, then box-filtered down
_WARM = np.array([1.0, 0.97, 0.9], np.float32)  # paper base, relative to its level
_BROWN = np.array([0.55, 0.78, 1.0], np.float32)  # how much a water stain darkens R, G, B


def _colour(rgb: Array, channels: int) -> Array:
    """An RGB colour for an image of ``channels`` channels."""
    colour = np.asarray(rgb, np.float32)
    return colour if channels == 3 else luma(colour[None, None])[0, 0]


def _paper(rng: Generator, channels: int) -> Array:
    """The colour of bare paper: near white, slightly warm."""
    return _colour(_WARM * rng.uniform(0.86, 1.0), channels)


def _dark(rng: Generator, channels: int) -> Array:
    """A dark backing or dirt colour."""
    return _colour(_WARM * rng.uniform(0.03, 0.22), channels)


def _noise(rng: Generator, height: int, width: int, cell: float) -> Array:
    """Smooth noise of about unit std with features ``cell`` px apart."""
    rows, cols = math.ceil(height / cell) + 2, math.ceil(width / cell) + 2
    coarse = rng.standard_normal((rows, cols), dtype=np.float32)
    fine = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.asarray(fine / (fine.std() + 1e-6), np.float32)


def _over(region: Array, alpha: Array, colour: Array) -> None:
    """Composite ``colour`` at ``alpha`` (H x W) over ``region`` in place."""
    region += alpha[..., None] * (colour - region)


def _max_width(width: float, shape: tuple[int, ...]) -> float:
    """``width`` px, at least 1 and at most 1/12 of the image's shorter side."""
    return max(1.0, min(width, min(shape[:2]) / 12))


def _profile(rng: Generator, n: int, low: float, taper: float) -> Array:
    """Per-vertex width factors of a line of ``n`` vertices: smooth, in [low, 1], max 1.

    ``taper`` is the fraction of the line at each end that narrows to a point.
    """
    knots = rng.random(max(2, n // 12 + 2))
    factor = np.interp(np.linspace(0, len(knots) - 1, n), np.arange(len(knots)), knots)
    factor = low + (1 - low) * (factor - factor.min()) / (np.ptp(factor) + 1e-9)
    if taper > 0:
        ends = np.minimum(np.arange(n) + 1, n - np.arange(n)) / max(1.0, taper * n)
        factor = factor * np.minimum(1.0, ends)
        factor[np.argmax(factor)] = 1.0
    return np.asarray(factor, np.float64)


class _Canvas:
    """Coverage in [0, 1], drawn at ``_SCALE`` x without anti-aliasing and box-filtered down.

    OpenCV's own anti-aliasing snaps to whole pixels and draws about 1.5 px wide;
    this keeps widths and sub-pixel positions exact. Points are x, y in image pixels.
    """

    def __init__(self, height: int, width: int) -> None:
        self.size = (width, height)
        self.fine = np.zeros((height * _SCALE, width * _SCALE), np.uint8)

    @staticmethod
    def _fixed(points: Array) -> Array:
        fine = _SCALE * (np.asarray(points, np.float64) + 0.5) - 0.5
        return np.round(fine * (1 << _SHIFT)).astype(np.int32)

    @staticmethod
    def _thickness(width: float) -> int:
        return max(1, round(_SCALE * width) - 1)  # OpenCV adds about one fine pixel

    def line(self, points: Array, widths: Array) -> None:
        """Segments through ``points`` (n x 2), segment i ``widths[i]`` px wide, round joins."""
        fixed = self._fixed(points)
        for i in range(len(fixed) - 1):
            thickness = self._thickness(float(widths[i]))
            cv2.line(self.fine, fixed[i], fixed[i + 1], 255, thickness, cv2.LINE_8, _SHIFT)

    def outlines(self, polygons: list[Array], width: float) -> None:
        """Closed polygon outlines, ``width`` px wide."""
        fixed = [self._fixed(polygon) for polygon in polygons]
        cv2.polylines(self.fine, fixed, True, 255, self._thickness(width), cv2.LINE_8, _SHIFT)

    def fill(self, polygon: Array) -> None:
        """A filled polygon."""
        cv2.fillPoly(self.fine, [self._fixed(polygon)], 255, cv2.LINE_8, _SHIFT)

    def coverage(self) -> Array:
        """The H x W float32 coverage."""
        small = cv2.resize(self.fine, self.size, interpolation=cv2.INTER_AREA)
        return small.astype(np.float32) / 255


def _walk(rng: Generator, start: Array, angle: float, length: float, wiggle: float) -> Array:
    """A jagged random-walk polyline from ``start`` heading ``angle`` (radians)."""
    step = float(np.clip(length / 40, 2.0, 8.0))
    n = max(2, math.ceil(length / step))
    turns = rng.normal(0, wiggle, n)
    turns += np.where(rng.random(n) < 0.08, rng.normal(0, 5 * wiggle, n), 0)
    angles = angle + np.cumsum(turns)
    moves = step * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    points = start + np.concatenate([np.zeros((1, 2)), np.cumsum(moves, axis=0)])
    normals = np.stack([-np.sin(angles), np.cos(angles)], axis=1)
    points[1:] += normals * rng.normal(0, 0.2 * step, (n, 1))
    return points


def _border_point(rng: Generator, height: int, width: int) -> tuple[Array, float]:
    """A random point on the image border and the inward angle there."""
    side = int(rng.integers(4))
    t = rng.random()
    point, inward = [
        ((t * width, 0.0), math.pi / 2),
        ((t * width, height - 1.0), -math.pi / 2),
        ((0.0, t * height), 0.0),
        ((width - 1.0, t * height), math.pi),
    ][side]
    return np.array(point), inward


def _jagged(rng: Generator, points: Array, roughness: float) -> Array:
    """A torn outline through ``points``: midpoint displacement down to ~2 px segments."""
    points = np.asarray(points, np.float64)
    longest = float(np.max(np.linalg.norm(np.diff(points, axis=0), axis=1)))
    for _ in range(min(10, max(1, math.ceil(math.log2(max(longest, 2) / 2))))):
        segments = np.diff(points, axis=0)
        normals = np.stack([-segments[:, 1], segments[:, 0]], axis=1)
        middles = (points[:-1] + points[1:]) / 2
        middles += normals * rng.normal(0, roughness, (len(middles), 1))
        merged = np.empty((2 * len(points) - 1, 2))
        merged[0::2], merged[1::2] = points, middles
        points = merged
    return points


class PrintDamage(Step):
    """Base of the print-damage steps: how often they draw and how the mask is cut."""

    marks_hidden: ClassVar[bool] = False  # whether damage the picture happens to match counts
    probability: float = Field(default=1.0, ge=0, le=1)  # chance the step draws at all
    threshold: float = Field(default=0.1, gt=0, lt=1)  # coverage that counts as damage
    min_change: float = Field(default=0.03, ge=0, lt=1)  # smallest change that counts

    def run(self, image: Array, mask: Array, rng: Generator) -> Result:
        if rng.random() >= self.probability:
            return image, mask, {"drawn": False}
        out = image.copy()
        coverage, info = self.draw(out, rng)
        hit = coverage > self.threshold
        if not self.marks_hidden:
            hit &= visible(image, out, self.min_change)
        out = np.clip(out, 0, 1, out=out)
        return out, np.maximum(mask, hit.astype(np.float32)), {"drawn": True, **info}

    def draw(self, out: Array, rng: Generator) -> tuple[Array, dict[str, Any]]:
        """Draw into ``out`` in place; the H x W damage coverage in [0, 1] and what was sampled."""
        raise NotImplementedError


class Cracks(PrintDamage):
    """Long branching cracks and folds, bright (bare paper) or dark, slightly darker beside."""

    kind: Literal["cracks"] = "cracks"
    count: Annotated[IntSpan, span(0, 50)] = (1, 4)
    width: Annotated[Span, span(1, 15)] = (1.0, 6.0)  # px at the widest point of a crack
    length: Annotated[Span, span(0.02, 2)] = (0.3, 0.9)  # of the image diagonal
    branches: Annotated[IntSpan, span(0, 20)] = (0, 4)  # per crack
    bright_probability: float = Field(default=0.6, ge=0, le=1)
    fold_probability: float = Field(default=0.25, ge=0, le=1)  # straight, border to border
    edge_darkening: Annotated[Span, span(0, 0.1)] = (0.03, 0.08)

    def draw(self, out: Array, rng: Generator) -> tuple[Array, dict[str, Any]]:
        height, width = out.shape[:2]
        diagonal = math.hypot(height, width)
        canvases = {bright: _Canvas(height, width) for bright in (True, False)}
        widths = []
        for _ in range(sample_int(rng, self.count)):
            crack_width = _max_width(sample(rng, self.width), out.shape)
            canvas = canvases[bool(rng.random() < self.bright_probability)]
            if rng.random() < self.fold_probability:
                start, inward = _border_point(rng, height, width)
                angle = inward + rng.uniform(-0.35, 0.35)
                points = _walk(rng, start, angle, 1.5 * diagonal, 0.01)
                canvas.line(points, crack_width * _profile(rng, len(points), 0.6, 0))
            else:
                self._crack(canvas, rng, diagonal, crack_width)
            widths.append(crack_width)
        bright, dark = canvases[True].coverage(), canvases[False].coverage()
        opacity = np.clip(0.85 + 0.15 * _noise(rng, height, width, diagonal / 8), 0.6, 1)
        bright *= opacity
        dark *= opacity * rng.uniform(0.6, 0.9)
        coverage = np.maximum(bright, dark)
        if widths:
            sigma = 1 + 0.6 * float(np.mean(widths))
            halo = cv2.GaussianBlur(coverage, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)
            out *= (1 - sample(rng, self.edge_darkening) * np.clip(2 * halo, 0, 1))[..., None]
        _over(out, bright, _paper(rng, out.shape[2]))
        _over(out, dark, _dark(rng, out.shape[2]))
        return coverage, {"widths": widths}

    def _crack(self, canvas: _Canvas, rng: Generator, diagonal: float, crack_width: float) -> None:
        """One crack and its branches (branches of branches, once)."""
        width, height = canvas.size
        if rng.random() < 0.5:
            start, angle = _border_point(rng, height, width)
            angle += rng.uniform(-0.8, 0.8)
        else:
            start, angle = rng.random(2) * (width, height), rng.uniform(0, 2 * math.pi)
        todo = [(start, angle, sample(rng, self.length) * diagonal, crack_width, 0)]
        while todo:
            start, angle, length, line_width, depth = todo.pop()
            points = _walk(rng, start, angle, length, 0.06)
            canvas.line(points, line_width * _profile(rng, len(points), 0.5, 0.12))
            if depth == 2:
                continue
            for _ in range(sample_int(rng, self.branches) if depth == 0 else rng.integers(2)):
                at = int(rng.integers(len(points) // 5, max(len(points) // 5 + 1, len(points) - 1)))
                heading = np.arctan2(*(points[at + 1] - points[at])[::-1])
                turn = rng.choice([-1, 1]) * rng.uniform(0.3, 1.2)
                todo.append(
                    (
                        points[at],
                        float(heading + turn),
                        length * rng.uniform(0.15, 0.5),
                        max(1.0, line_width * rng.uniform(0.3, 0.7)),
                        depth + 1,
                    )
                )


class TornEdges(PrintDamage):
    """Torn-off corners and bites out of the edges, showing dark backing or paper white.

    The missing piece is damage even where the backing matches the picture.
    """

    marks_hidden: ClassVar[bool] = True

    kind: Literal["torn_edges"] = "torn_edges"
    count: Annotated[IntSpan, span(0, 10)] = (1, 2)
    size: Annotated[Span, span(0.01, 0.6)] = (0.08, 0.3)  # of the shorter side
    corner_probability: float = Field(default=0.6, ge=0, le=1)
    dark_probability: float = Field(default=0.5, ge=0, le=1)  # dark backing, else paper white
    rim: Annotated[Span, span(0, 10)] = (1.0, 3.0)  # px of white torn paper beside dark backing

    def draw(self, out: Array, rng: Generator) -> tuple[Array, dict[str, Any]]:
        height, width = out.shape[:2]
        short = min(height, width)
        hole, rim = _Canvas(height, width), _Canvas(height, width)
        dark = bool(rng.random() < self.dark_probability)
        rim_width = sample(rng, self.rim) if dark else 0.0
        shapes = []
        for _ in range(sample_int(rng, self.count)):
            size = sample(rng, self.size) * short
            if rng.random() < self.corner_probability:
                outline, tear = self._corner(rng, height, width, size)
                shapes.append("corner")
            else:
                outline, tear = self._bite(rng, height, width, size)
                shapes.append("edge")
            if rim_width > 0:
                rim.line(tear, 2 * rim_width * _profile(rng, len(tear), 0.3, 0))
            hole.fill(outline)
        hole_alpha, rim_alpha = hole.coverage(), rim.coverage()
        backing = _dark(rng, out.shape[2]) if dark else _paper(rng, out.shape[2])
        _over(out, rim_alpha, _paper(rng, out.shape[2]))
        mottle = 1 + 0.05 * _noise(rng, height, width, short / 10)[..., None]
        out += hole_alpha[..., None] * (backing * mottle - out)
        return np.maximum(hole_alpha, rim_alpha), {"shapes": shapes, "dark": dark}

    @staticmethod
    def _corner(rng: Generator, height: int, width: int, size: float) -> tuple[Array, Array]:
        """The outline of a torn-off corner and its tear line."""
        cx, cy = (0.0, width)[int(rng.integers(2))], (0.0, height)[int(rng.integers(2))]
        sx, sy = (1 if cx == 0 else -1), (1 if cy == 0 else -1)
        a = (cx + sx * size * rng.uniform(0.6, 1.6), cy - sy * 2)
        b = (cx - sx * 2, cy + sy * size * rng.uniform(0.6, 1.6))
        corner = np.array([cx - sx * 2, cy - sy * 2])
        middle = corner + rng.uniform(0.25, 0.6) * (np.add(a, b) - 2 * corner)
        tear = _jagged(rng, np.array([a, middle, b]), rng.uniform(0.12, 0.3))
        return np.concatenate([corner[None], tear]), tear

    @staticmethod
    def _bite(rng: Generator, height: int, width: int, size: float) -> tuple[Array, Array]:
        """The outline of a piece torn out of an edge and its tear line."""
        point, inward = _border_point(rng, height, width)
        along = np.array([math.cos(inward + math.pi / 2), math.sin(inward + math.pi / 2)])
        into = np.array([math.cos(inward), math.sin(inward)])
        span_ = size * rng.uniform(1.5, 3.0)
        a, b = point - into * 2 - along * span_ / 2, point - into * 2 + along * span_ / 2
        middle = point + along * rng.uniform(-0.2, 0.2) * span_ + into * size * rng.uniform(0.4, 1)
        tear = _jagged(rng, np.array([a, middle, b]), rng.uniform(0.12, 0.3))
        return tear, tear


class Crazing(PrintDamage):
    """A web of hairline cracks (warped Voronoi cell edges) over blotchy regions."""

    kind: Literal["crazing"] = "crazing"
    count: Annotated[IntSpan, span(0, 10)] = (1, 2)  # regions
    size: Annotated[Span, span(0.02, 1.5)] = (0.2, 0.6)  # region diameter / shorter side
    cell: Annotated[Span, span(0.002, 0.2)] = (0.015, 0.05)  # cell size / shorter side
    width: Annotated[Span, span(0.5, 4)] = (1.0, 2.0)  # px
    opacity: Annotated[Span, span(0, 1)] = (0.35, 0.8)
    bright_probability: float = Field(default=0.3, ge=0, le=1)

    def draw(self, out: Array, rng: Generator) -> tuple[Array, dict[str, Any]]:
        height, width = out.shape[:2]
        short = min(height, width)
        coverage = np.zeros((height, width), np.float32)
        regions = sample_int(rng, self.count)
        for _ in range(regions):
            radius = sample(rng, self.size) * short / 2
            rx, ry = radius * rng.uniform(0.7, 1.3, 2)
            cx, cy = rng.random(2) * (width, height)
            x0, x1 = max(0, int(cx - rx)), min(width, int(cx + rx) + 1)
            y0, y1 = max(0, int(cy - ry)), min(height, int(cy + ry) + 1)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            cell = max(4.0, sample(rng, self.cell) * short)
            web = self._web(rng, y1 - y0, x1 - x0, cell, sample(rng, self.width))
            y, x = np.mgrid[y0:y1, x0:x1].astype(np.float32)
            rho = np.hypot((x - cx) / rx, (y - cy) / ry)
            rho += 0.3 * np.abs(_noise(rng, y1 - y0, x1 - x0, radius / 2))  # only shrinks
            weight = np.clip((1 - rho) / 0.25, 0, 1)
            breaks = np.clip(0.7 + 0.8 * _noise(rng, y1 - y0, x1 - x0, 2 * cell), 0, 1)
            alpha = web * weight * breaks * sample(rng, self.opacity)
            coverage[y0:y1, x0:x1] = np.maximum(coverage[y0:y1, x0:x1], alpha)
        bright = rng.random() < self.bright_probability
        colour = _paper(rng, out.shape[2]) if bright else _dark(rng, out.shape[2])
        _over(out, coverage, colour)
        return coverage, {"regions": regions, "bright": bool(bright)}

    @staticmethod
    def _web(rng: Generator, height: int, width: int, cell: float, thickness: float) -> Array:
        """Voronoi cell edges over a height x width box, warped to look irregular, in [0, 1]."""
        count = min(4000, max(4, round(height * width / cell**2)))
        seeds = rng.random((count, 2)) * (width - 1, height - 1)
        subdiv = cv2.Subdiv2D((0, 0, width, height))
        subdiv.insert([(float(x), float(y)) for x, y in seeds])
        facets, _ = subdiv.getVoronoiFacetList([])
        limit = np.array([[-width, -height]]), np.array([[2 * width, 2 * height]])
        canvas = _Canvas(height, width)
        canvas.outlines([np.clip(f, *limit) for f in facets], thickness)
        grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
        shift = 0.15 * cell
        map_x = grid_x + shift * _noise(rng, height, width, 4 * cell)
        map_y = grid_y + shift * _noise(rng, height, width, 4 * cell)
        web = canvas.coverage()
        return np.asarray(cv2.remap(web, map_x, map_y, cv2.INTER_LINEAR), np.float32)


class WaterStains(PrintDamage):
    """Blotchy water stains: brownish tide lines (damage) around a faint tint (not damage).

    A tide line's coverage is how much it darkens the picture.
    """

    kind: Literal["water_stains"] = "water_stains"
    count: Annotated[IntSpan, span(0, 10)] = (1, 2)
    size: Annotated[Span, span(0.02, 2)] = (0.2, 0.8)  # diameter / shorter side
    rings: Annotated[IntSpan, span(1, 5)] = (1, 3)  # nested tide lines
    rim_strength: Annotated[Span, span(0, 1)] = (0.3, 0.6)  # darkening at the tide line
    rim_width: Annotated[Span, span(0.5, 30)] = (1.0, 3.5)  # px, fading inward
    tint: Annotated[Span, span(0, 0.1)] = (0.02, 0.07)  # darkening inside

    def draw(self, out: Array, rng: Generator) -> tuple[Array, dict[str, Any]]:
        height, width = out.shape[:2]
        coverage = np.zeros((height, width), np.float32)
        brown = _BROWN if out.shape[2] == 3 else _colour(_BROWN, 1)
        stains = sample_int(rng, self.count)
        for _ in range(stains):
            radius = sample(rng, self.size) * min(height, width) / 2
            cx, cy = rng.uniform(-0.2, 1.2, 2) * (width, height)
            x0, x1 = max(0, int(cx - 1.5 * radius)), min(width, int(cx + 1.5 * radius) + 1)
            y0, y1 = max(0, int(cy - 1.5 * radius)), min(height, int(cy + 1.5 * radius) + 1)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            y, x = np.mgrid[y0:y1, x0:x1].astype(np.float32)
            theta = np.arctan2(y - cy, x - cx)
            wobble = np.ones_like(theta)
            for k in range(2, 7):
                wobble += rng.normal(0, 0.12 / k) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
            rho = np.hypot(x - cx, y - cy) / (radius * wobble)
            rho += 0.05 * _noise(rng, y1 - y0, x1 - x0, radius / 4)
            rim_width, strength = sample(rng, self.rim_width), sample(rng, self.rim_strength)
            rim, level = np.zeros_like(rho), 1.0
            for ring in range(sample_int(rng, self.rings)):
                inside = (level - rho) * radius  # px inside this tide line
                line = np.clip(inside + 0.5, 0, 1) * np.exp(-np.maximum(inside, 0) / rim_width)
                rim = np.maximum(rim, line * (1.0 if ring == 0 else rng.uniform(0.4, 0.9)))
                level *= rng.uniform(0.6, 0.9)
            tint = sample(rng, self.tint) * np.clip((1 - rho) * radius + 0.5, 0, 1)
            region = out[y0:y1, x0:x1]
            region *= 1 - (tint[..., None] + strength * rim[..., None]) * brown
            coverage[y0:y1, x0:x1] = np.maximum(coverage[y0:y1, x0:x1], strength * rim)
        return coverage, {"stains": stains}


class PrintScratches(PrintDamage):
    """Long, nearly straight bright scratches across the picture, some with a dark edge."""

    kind: Literal["print_scratches"] = "print_scratches"
    count: Annotated[IntSpan, span(0, 20)] = (1, 3)
    width: Annotated[Span, span(1, 15)] = (2.0, 8.0)  # px at the widest point
    length: Annotated[Span, span(0.1, 1)] = (0.6, 1.0)  # of the chord through the image
    bend: Annotated[Span, span(0, 0.3)] = (0.0, 0.04)  # sagitta / length
    brightness: Annotated[Span, span(0, 1)] = (0.8, 1.0)
    dark_edge_probability: float = Field(default=0.5, ge=0, le=1)

    def draw(self, out: Array, rng: Generator) -> tuple[Array, dict[str, Any]]:
        height, width = out.shape[:2]
        core, edge = _Canvas(height, width), _Canvas(height, width)
        widths = []
        for _ in range(sample_int(rng, self.count)):
            points = self._path(rng, height, width)
            scratch_width = _max_width(sample(rng, self.width), out.shape)
            profile = scratch_width * _profile(rng, len(points), 0.75, 0.06)
            if rng.random() < self.dark_edge_probability:  # a shadow along one side
                chord = points[-1] - points[0]
                normal = np.array([-chord[1], chord[0]]) / (np.linalg.norm(chord) + 1e-9)
                edge_width = rng.uniform(1, 2.5)
                offset = rng.choice([-1, 1]) * (profile + edge_width) / 2
                edge.line(points + normal * offset[:, None], np.full(len(points), edge_width))
            core.line(points, profile)
            widths.append(scratch_width)
        flicker = np.clip(0.85 + 0.15 * _noise(rng, height, width, 16), 0.5, 1)
        core_alpha = core.coverage() * sample(rng, self.brightness) * flicker
        edge_cover = edge.coverage()
        edge_alpha = edge_cover * rng.uniform(0.2, 0.45)
        _over(out, edge_alpha, _dark(rng, out.shape[2]))
        _over(out, core_alpha, _paper(rng, out.shape[2]))
        return np.maximum(core_alpha, edge_cover), {"widths": widths}

    def _path(self, rng: Generator, height: int, width: int) -> Array:
        """Points along a gently bent chord of the image."""
        angle = rng.uniform(0, math.pi)
        direction = np.array([math.cos(angle), math.sin(angle)])
        centre = (0.2 + 0.6 * rng.random(2)) * (width, height)
        size = np.array([width, height])
        safe = np.where(np.abs(direction) > 1e-6, direction, 1e-6)
        ends = np.sort(np.stack([-centre / safe, (size - centre) / safe]), axis=0)
        low, high = float(ends[0].max()), float(ends[1].min())
        length = (high - low) * sample(rng, self.length)
        start = low + rng.random() * (high - low - length)
        a, b = centre + direction * start, centre + direction * (start + length)
        normal = np.array([-direction[1], direction[0]])
        t = np.linspace(0, 1, max(3, math.ceil(length / 4)))[:, None]
        sag = sample(rng, self.bend) * length * rng.choice([-1, 1]) * 4 * t * (1 - t)
        return a + (b - a) * t + normal * sag
