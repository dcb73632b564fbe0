"""The shared tiling and stitching engine.

Images of any size are cut into overlapping tiles of one size, batched through a
stage and blended back together. Each tile's output is weighted by a separable
window that is 0 over the ``halo`` pixels next to an interior tile edge (where the
tile lacks context) and rises as a raised cosine across the rest of the overlap;
along the image border it stays 1. Because the tile grid is a product of a row
and a column layout, the sum of the windows at every pixel is a product of two
1-D sums, so the windows are normalised up front and every tile is added straight
into the preallocated output: no full-size accumulator or weight map exists, and
peak memory is inputs + outputs + one batch of tiles and its activations. For a
stage whose receptive-field radius is at most ``halo``, the tiled output equals
the whole-image output up to float rounding.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from restore.api.stage import Stage, StageParams, TilePolicy
from restore.engine.context import CancelToken, TileOptions

__all__ = ["ProgressFn", "run_stage", "run_tiled"]

logger = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
"""Called as ``progress(done, total)`` for the current stage: ``(0, total)`` before the
first model call, then after each batch of tiles (a LOWRES stage counts two steps: the
low-resolution pass and the transfer)."""

DEFAULT_OPTIONS = TileOptions()

Process = Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]


def run_tiled(
    process: Process,
    inputs: Mapping[str, np.ndarray],
    *,
    halo: int,
    scale: int = 1,
    multiple: int = 1,
    options: TileOptions = DEFAULT_OPTIONS,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, np.ndarray]:
    """Run ``process`` over overlapping tiles of ``inputs`` and blend the results.

    ``inputs`` are float32 H x W x C arrays (H x W is read as one channel) of one
    height and width. ``process`` maps a dict of N x C x h x w tensors on
    ``options.device`` to a dict of N x C' x h*scale x w*scale tensors; each tile
    is padded (reflect, or replicate where reflect cannot) to a multiple of
    ``multiple`` before it and cropped after. Returns float32
    H*scale x W*scale x C' arrays, one per key ``process`` returns. ``progress``
    hears ``(0, tiles)`` before the first batch and ``(done, tiles)`` after each.
    """
    arrays = _check_inputs(inputs)
    height, width = next(iter(arrays.values())).shape[:2]
    if halo < 0 or scale < 1 or multiple < 1:
        raise ValueError("halo must be >= 0, scale >= 1 and multiple >= 1")
    overlap = max(options.overlap, 2 * halo + 2)
    tile = options.tile if options.tile > 0 else max(height, width)
    if tile < max(height, width):
        if tile <= overlap:
            logger.warning(
                "tile %d is not larger than overlap %d: using %d", tile, overlap, 2 * overlap
            )
            tile = 2 * overlap
        # Tiles and their starts sit on the model's `multiple` grid, so a network that
        # downsamples (a U-Net) sees each tile on the same grid as the whole image.
        tile = max(multiple, tile // multiple * multiple)
    stride = max(multiple, (tile - overlap) // multiple * multiple)
    tile_h, tile_w = min(tile, height), min(tile, width)
    rows = _starts(height, tile_h, stride, multiple)
    cols = _starts(width, tile_w, stride, multiple)
    row_weights = _windows(rows, height, tile_h, halo, overlap, scale)
    col_weights = _windows(cols, width, tile_w, halo, overlap, scale)
    tiles = [(i, j) for i in range(len(rows)) for j in range(len(cols))]
    out_h, out_w = tile_h * scale, tile_w * scale
    pad_h, pad_w = -tile_h % multiple, -tile_w % multiple
    expected = ((tile_h + pad_h) * scale, (tile_w + pad_w) * scale)

    if progress is not None:
        progress(0, len(tiles))
    outputs: dict[str, np.ndarray] | None = None
    for first in range(0, len(tiles), options.batch_size):
        if cancel is not None:
            cancel.raise_if_cancelled()
        chunk = tiles[first : first + options.batch_size]
        corners = [(rows[i], cols[j]) for i, j in chunk]
        batch = {
            name: _gather(array, corners, tile_h, tile_w, pad_h, pad_w)
            for name, array in arrays.items()
        }
        results = _call(process, batch, options)
        del batch
        if outputs is None:
            outputs = {
                name: np.zeros((height * scale, width * scale, t.shape[1]), np.float32)
                for name, t in results.items()
            }
        _check_results(results, outputs, len(chunk), expected)
        if len(tiles) > 1:
            row_w = torch.stack([row_weights[i] for i, _ in chunk])[:, None, :, None]
            col_w = torch.stack([col_weights[j] for _, j in chunk])[:, None, None, :]
        for name, result in results.items():
            result = result[:, :, :out_h, :out_w]
            if len(tiles) == 1:
                outputs[name][...] = result[0].permute(1, 2, 0).numpy()
                continue
            weighted = (result * row_w * col_w).permute(0, 2, 3, 1).contiguous().numpy()
            for k, (i, j) in enumerate(chunk):
                y, x = rows[i] * scale, cols[j] * scale
                region = outputs[name][
                    y : y + out_h, x : x + out_w
                ]  # last tiles: cut at the border
                np.add(region, weighted[k, : region.shape[0], : region.shape[1]], out=region)
        if progress is not None:
            progress(first + len(chunk), len(tiles))
    assert outputs is not None  # there is always at least one tile
    return outputs


def run_stage(
    stage: Stage,
    inputs: Mapping[str, np.ndarray],
    params: StageParams,
    options: TileOptions = DEFAULT_OPTIONS,
    progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, np.ndarray]:
    """Run ``stage`` on ``inputs`` as its ``tiling.policy`` says.

    TILE runs tiled; WHOLE runs the whole image in one piece; LOWRES runs on a
    copy whose long side is the working size (``params.working_size`` if the
    parameter model has it, else ``stage.tiling.working_size``; never upscaled),
    then ``stage.transfer`` lifts the result to full size. Progress counts
    tiles (WHOLE: one), or for LOWRES two steps: ``(0, 2)``, ``(1, 2)`` after
    the low-resolution pass and ``(2, 2)`` after the transfer. For TILE, when
    the device runs out of memory the tile side is halved (not below
    ``max(64, 4 * halo)``; the overlap is capped at half of it) and the stage
    starts over, progress included; at the minimum the error is re-raised.
    """
    tiling = stage.tiling
    if options.precision not in tiling.precisions:
        raise ValueError(
            f"{stage.name}: precision {options.precision!r} is not one of {tiling.precisions}"
        )

    def process(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return stage.process(batch, params)

    kwargs = {"halo": tiling.halo, "scale": tiling.scale, "multiple": tiling.multiple}
    if tiling.policy is TilePolicy.WHOLE:
        whole = replace(options, tile=0)
        return run_tiled(process, inputs, **kwargs, options=whole, progress=progress, cancel=cancel)
    if tiling.policy is TilePolicy.LOWRES:
        return _run_lowres(stage, process, inputs, params, options, progress, cancel)

    long_side = max(np.shape(next(iter(inputs.values())))[:2]) if inputs else 0
    while True:
        try:
            return run_tiled(
                process, inputs, **kwargs, options=options, progress=progress, cancel=cancel
            )
        except RuntimeError as exc:
            current = min(options.tile or long_side, long_side)
            minimum = max(64, 4 * tiling.halo)
            if not _is_out_of_memory(exc) or current <= minimum:
                raise
        if options.device.type == "cuda":
            torch.cuda.empty_cache()
        smaller = max(current // 2, minimum)
        logger.warning(
            "%s: out of memory with %d px tiles, retrying with %d px", stage.name, current, smaller
        )
        options = replace(options, tile=smaller, overlap=min(options.overlap, smaller // 2))


def _run_lowres(
    stage: Stage,
    process: Process,
    inputs: Mapping[str, np.ndarray],
    params: StageParams,
    options: TileOptions,
    progress: ProgressFn | None,
    cancel: CancelToken | None,
) -> dict[str, np.ndarray]:
    """Process a downscaled working copy, then let ``stage.transfer`` lift it to full size."""
    tiling = stage.tiling
    arrays = _check_inputs(inputs)
    height, width = next(iter(arrays.values())).shape[:2]
    size = getattr(params, "working_size", None)
    if "working_size" not in type(params).model_fields or size is None:
        size = tiling.working_size
    if max(height, width) > size:
        factor = size / max(height, width)
        low_h = size if height >= width else max(1, round(height * factor))
        low_w = size if width > height else max(1, round(width * factor))
        small = {
            name: cv2.resize(array, (low_w, low_h), interpolation=cv2.INTER_AREA).reshape(
                low_h, low_w, array.shape[2]
            )
            for name, array in arrays.items()
        }
    else:
        small = arrays
    if progress is not None:
        progress(0, 2)
    low = run_tiled(
        process,
        small,
        halo=tiling.halo,
        scale=tiling.scale,
        multiple=tiling.multiple,
        options=replace(options, tile=0),
        cancel=cancel,
    )
    if progress is not None:
        progress(1, 2)
    if cancel is not None:
        cancel.raise_if_cancelled()
    with torch.inference_mode():
        full = {name: _as_nchw(array) for name, array in arrays.items()}
        lifted = stage.transfer(full, {name: _as_nchw(a) for name, a in low.items()}, params)
    expected = (height * tiling.scale, width * tiling.scale)
    result = {}
    for name, tensor in lifted.items():
        if tensor.ndim != 4 or tensor.shape[0] != 1 or tuple(tensor.shape[-2:]) != expected:
            raise ValueError(
                f"{stage.name}: transfer output {name!r} has shape {tuple(tensor.shape)}, "
                f"expected 1 x C x {expected[0]} x {expected[1]}"
            )
        result[name] = tensor.detach().to("cpu", torch.float32)[0].permute(1, 2, 0).contiguous()
    if progress is not None:
        progress(2, 2)
    return {name: tensor.numpy() for name, tensor in result.items()}


def _check_inputs(inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Return the inputs as H x W x C float32 views, checking they agree in size."""
    if not inputs:
        raise ValueError("at least one input is needed")
    arrays = {}
    for name, array in inputs.items():
        array = np.asarray(array)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3 or array.dtype != np.float32:
            raise ValueError(
                f"input {name!r} must be a float32 H x W x C array, "
                f"not {array.dtype} with shape {array.shape}"
            )
        arrays[name] = array
    shapes = {array.shape[:2] for array in arrays.values()}
    if len(shapes) != 1:
        raise ValueError(f"inputs differ in height and width: {sorted(shapes)}")
    if min(shapes.pop()) < 1:
        raise ValueError("inputs must be at least 1 x 1")
    return arrays


def _starts(length: int, tile: int, stride: int, multiple: int) -> list[int]:
    """Tile starts along one axis, on the ``multiple`` grid; the last tile reaches the
    border and may overhang it by less than ``multiple`` (it is padded like the whole
    image would be)."""
    if tile >= length:
        return [0]
    last = -(-(length - tile) // multiple) * multiple
    return [*range(0, last, stride), last]


def _windows(
    starts: Sequence[int], length: int, tile: int, halo: int, overlap: int, scale: int
) -> list[torch.Tensor]:
    """Per-tile 1-D blending windows along one axis (output pixels), normalised to sum to 1."""
    size = tile * scale
    if len(starts) == 1:
        return [torch.ones(size)]
    index = np.arange(size, dtype=np.float64)
    dead, ramp_end = halo * scale, min(overlap * scale, size)
    ramp = 0.5 - 0.5 * np.cos(np.pi * (index - dead + 1) / (ramp_end - dead + 1))
    rising = np.where(index < dead, 0.0, np.where(index < ramp_end, ramp, 1.0))
    windows = []
    for start in starts:
        window = np.ones(size)
        if start > 0:
            window *= rising
        if start + tile < length:
            window *= rising[::-1]
        windows.append(window)
    total = np.zeros(max(length, starts[-1] + tile) * scale)
    for start, window in zip(starts, windows, strict=True):
        total[start * scale : start * scale + size] += window
    if not np.all(total[: length * scale] > 0):  # unreachable while overlap >= 2 * halo + 2
        raise AssertionError("tile windows leave pixels uncovered")
    total[total == 0] = 1  # beyond the border: cropped away
    return [
        torch.from_numpy((window / total[start * scale : start * scale + size]).astype(np.float32))
        for start, window in zip(starts, windows, strict=True)
    ]


def _gather(
    array: np.ndarray,
    corners: Sequence[tuple[int, int]],
    tile_h: int,
    tile_w: int,
    pad_h: int,
    pad_w: int,
) -> torch.Tensor:
    """Copy tiles of an H x W x C array into an N x C x h x w tensor padded to the multiple."""
    batch = torch.empty((len(corners), array.shape[2], tile_h, tile_w), dtype=torch.float32)
    view = batch.numpy()
    for k, (y, x) in enumerate(corners):
        patch = array[y : y + tile_h, x : x + tile_w]
        short_h, short_w = tile_h - patch.shape[0], tile_w - patch.shape[1]
        if short_h or short_w:  # a last tile overhanging the border by less than `multiple`
            np_mode: Literal["reflect", "edge"] = (
                "reflect" if min(patch.shape[:2]) > max(short_h, short_w) else "edge"
            )
            patch = np.pad(patch, ((0, short_h), (0, short_w), (0, 0)), mode=np_mode)
        view[k] = patch.transpose(2, 0, 1)
    if pad_h:
        mode = "reflect" if pad_h < tile_h else "replicate"
        batch = F.pad(batch, (0, 0, 0, pad_h), mode=mode)
    if pad_w:
        mode = "reflect" if pad_w < tile_w else "replicate"
        batch = F.pad(batch, (0, pad_w, 0, 0), mode=mode)
    return batch


def _call(
    process: Process, batch: dict[str, torch.Tensor], options: TileOptions
) -> dict[str, torch.Tensor]:
    """Run ``process`` on the device at the chosen precision; return CPU float32 tensors."""
    device = options.device
    autocast = (
        contextlib.nullcontext()
        if options.precision == "float32"
        else torch.autocast(device_type=device.type, dtype=getattr(torch, options.precision))
    )
    with torch.inference_mode(), autocast:
        results = process({name: t.to(device) for name, t in batch.items()})
        return {name: t.detach().to("cpu", torch.float32) for name, t in results.items()}


def _check_results(
    results: Mapping[str, torch.Tensor],
    outputs: Mapping[str, np.ndarray],
    count: int,
    expected: tuple[int, int],
) -> None:
    """Check a batch's outputs against the first batch's keys and channels and the tile size."""
    if results.keys() != outputs.keys():
        raise ValueError(f"process returned {sorted(results)}, earlier {sorted(outputs)}")
    for name, t in results.items():
        shape = (count, outputs[name].shape[2], *expected)
        if tuple(t.shape) != shape:
            raise ValueError(
                f"process output {name!r} has shape {tuple(t.shape)}, expected {shape}"
            )


def _is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc)


def _as_nchw(array: np.ndarray) -> torch.Tensor:
    """A 1 x C x H x W tensor view of an H x W x C array (copied only if strides are negative)."""
    if any(stride < 0 for stride in array.strides):
        array = np.ascontiguousarray(array)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not writable.*")
        return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)
