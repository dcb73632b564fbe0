"""Runs a bound plan on one image: topological order, bypasses, eager freeing, timings."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from restore.api.color import is_grayscale, to_channels
from restore.api.errors import RestoreError
from restore.api.stage import Channels, PortKind, Stage
from restore.engine.config import Condition
from restore.engine.context import RunContext
from restore.engine.graph import INPUT_REF, BoundNode, Plan, Ref
from restore.engine.tiling import run_stage

StageInstances = Callable[[type[Stage], torch.device], Stage]
"""Gives the one shared instance of a stage class for a device (the app's pool)."""


@dataclass
class Execution:
    """What one run produced: the declared outputs, per-node times of the nodes that
    ran, and the bypassed nodes with the reason for each."""

    outputs: dict[Ref, np.ndarray]
    seconds: dict[str, float] = field(default_factory=dict)
    bypassed: dict[str, str] = field(default_factory=dict)
    grayscale: bool = False


def _adapt(array: np.ndarray, kind: PortKind, channels: Channels) -> np.ndarray:
    if kind is PortKind.MASK or channels is Channels.GRAY:
        return to_channels(array, 1)
    if channels is Channels.RGB:
        return to_channels(array, 3)
    return array


def _bypass_reason(node: BoundNode, grayscale: bool, missing: list[Ref]) -> str | None:
    """Why ``node`` does not run on this image, or None when it runs."""
    if not node.enabled:
        return "disabled"
    if node.when is Condition.GRAYSCALE and not grayscale:
        return "input is colour"
    if node.when is Condition.COLOR and grayscale:
        return "input is grayscale"
    if missing:
        return "no input from " + ", ".join(".".join(ref) for ref in missing)
    return None


def _check_finite(node: BoundNode, port: str, array: np.ndarray) -> None:
    """Refuse NaN or infinite values from a node (broken weights, a stage bug)."""
    flat = array.reshape(-1)
    step = 1 << 22  # check in slices: no full-size boolean temporary
    for start in range(0, flat.size, step):
        if not np.isfinite(flat[start : start + step]).all():
            raise RestoreError(
                f"node {node.id!r} ({node.stage.name}) produced NaN or infinite values "
                f"in its {port!r} output (broken weights or parameters?)"
            )


def _check_output_size(node: BoundNode, image: np.ndarray, max_pixels: int | None) -> None:
    """Refuse, before it runs, a scaling node whose output would exceed ``max_pixels``."""
    scale = node.stage.tiling.scale
    height, width = image.shape[0] * scale, image.shape[1] * scale
    if scale > 1 and max_pixels is not None and height * width > max_pixels:
        raise RestoreError(
            f"node {node.id!r} ({node.stage.name}) would make a {width} x {height} image "
            f"({height * width / 1e6:.0f} MP), over the {max_pixels / 1e6:g} MP limit: "
            "enlarge a smaller image or raise the limit"
        )


def execute(
    plan: Plan, image: np.ndarray, instances: StageInstances, context: RunContext
) -> Execution:
    """Run every node on ``image`` (H x W x C float32) and return the declared outputs.

    A node that is disabled, whose condition is false, or one of whose inputs is
    missing is bypassed: its ``image`` output is its ``image`` input, its other
    outputs are missing. Intermediates are dropped once nothing reads them.
    """
    grayscale = is_grayscale(image)
    pending = plan.consumers()
    values: dict[Ref, np.ndarray] = {INPUT_REF: image}
    wanted = {(o.node, o.port) for o in plan.outputs}
    result = Execution(outputs={}, grayscale=grayscale)

    def release(ref: Ref) -> None:
        pending[ref] -= 1
        if pending[ref] == 0 and ref not in wanted:
            values.pop(ref, None)

    options, progress, cancel = context.options, context.progress, context.cancel
    for node in plan.nodes:
        if cancel is not None:
            cancel.raise_if_cancelled()
        available = {port: values[ref] for port, ref in node.inputs.items() if ref in values}
        missing = [ref for ref in node.inputs.values() if ref not in values]
        reason = _bypass_reason(node, grayscale, missing)
        if reason is None:
            if "image" in available:
                _check_output_size(node, available["image"], context.max_pixels)
            stage = instances(node.stage, options.device)
            inputs = {
                port: _adapt(array, stage.inputs[port].kind, stage.inputs[port].channels)
                for port, array in available.items()
            }
            started = time.perf_counter()
            report = (lambda d, t, n=node.id: progress(n, d, t)) if progress else None
            outputs = run_stage(
                stage,
                inputs,
                node.params,
                replace(options, precision=node.precision),
                progress=report,
                cancel=cancel,
            )
            result.seconds[node.id] = time.perf_counter() - started
            del inputs
            for port, array in outputs.items():
                _check_finite(node, port, array)
                if (node.id, port) in pending:
                    values[(node.id, port)] = array
        else:
            result.bypassed[node.id] = reason
            if "image" in available and "image" in node.stage.outputs:
                values[(node.id, "image")] = available["image"]
        for ref in node.inputs.values():
            release(ref)

    for ref in wanted:
        if ref in values:
            result.outputs[ref] = values[ref]
    return result
