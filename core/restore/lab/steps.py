"""The ``Step`` base of every degradation, and its sampled-parameter helpers.

A parameter typed ``Span`` is a number or a ``[low, high]`` pair sampled
uniformly on each call (``IntSpan``: integers, both ends included).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict

Array = np.ndarray
Generator = np.random.Generator
Result = tuple[Array, Array, dict[str, Any]]

Span = float | tuple[float, float]
IntSpan = int | tuple[int, int]


def span(low: float, high: float) -> AfterValidator:
    """Validator of a ``Span``: a number or a [low, high] pair, both within [``low``, ``high``].

    Used as ``Annotated[Span, span(low, high)]`` (or ``IntSpan``).
    """

    def check(value: Any) -> Any:
        lo, hi = value if isinstance(value, tuple) else (value, value)
        if not low <= lo <= hi <= high:
            raise ValueError(f"must be a number or a [low, high] pair within [{low}, {high}]")
        return value

    return AfterValidator(check)


def sample(rng: Generator, value: Span) -> float:
    """One draw of a ``Span``."""
    return float(rng.uniform(*value)) if isinstance(value, tuple) else float(value)


def sample_int(rng: Generator, value: IntSpan) -> int:
    """One draw of an ``IntSpan`` (both ends included)."""
    return int(rng.integers(value[0], value[1] + 1)) if isinstance(value, tuple) else value


def visible(before: Array, after: Array, min_change: float) -> Array:
    """Where ``after`` differs from ``before`` by more than ``min_change`` (largest channel
    difference, blurred a little so grain does not speckle a mask): H x W bool."""
    change = np.abs(after - before).max(axis=2)
    return np.asarray(cv2.GaussianBlur(change, (0, 0), 1.0) > min_change)


class Step(BaseModel):
    """One degradation; ``run`` also returns what it sampled."""

    model_config = ConfigDict(extra="forbid")

    def apply(self, image: Array, mask: Array, rng: Generator) -> tuple[Array, Array]:
        """The degraded image and the updated damage mask."""
        image, mask, _ = self.run(image, mask, rng)
        return image, mask

    def run(self, image: Array, mask: Array, rng: Generator) -> Result:
        """Like ``apply``, plus the parameters sampled for this call."""
        raise NotImplementedError
