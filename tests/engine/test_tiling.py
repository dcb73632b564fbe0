"""Tests of the tiling and stitching engine (restore.engine.tiling)."""

from __future__ import annotations

import logging
import tracemalloc
from typing import ClassVar

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fakes import Tint
from restore.api.errors import Cancelled
from restore.api.stage import Stage, StageParams, TilePolicy, Tiling
from restore.engine.tiling import CancelToken, TileOptions, run_stage, run_tiled

SIZES = [(157, 203), (64, 300), (10, 10), (1, 77)]


def conv_net(layers: int, out_channels: int, seed: int) -> nn.Sequential:
    """A random net of 3x3 convolutions: receptive-field radius ``layers``."""
    torch.manual_seed(seed)
    modules: list[nn.Module] = []
    channels = 3
    for k in range(layers):
        last = k == layers - 1
        modules.append(nn.Conv2d(channels, out_channels if last else 8, 3, padding=1))
        if not last:
            modules.append(nn.ReLU())
        channels = 8
    return nn.Sequential(*modules).eval()


def image(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((height, width, channels), dtype=np.float32)


def as_process(net: nn.Module):
    return lambda batch: {"image": net(batch["image"])}


def whole(net: nn.Module, array: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        out = net(torch.from_numpy(array).permute(2, 0, 1)[None])
    return out[0].permute(1, 2, 0).numpy()


@pytest.mark.parametrize(("height", "width"), SIZES)
def test_tiled_equals_whole(height: int, width: int) -> None:
    net = conv_net(4, 3, seed=1)
    inputs = {"image": image(height, width)}
    options = TileOptions(tile=64, overlap=12, batch_size=3)
    tiled = run_tiled(as_process(net), inputs, halo=4, options=options)["image"]
    reference = whole(net, inputs["image"])
    assert tiled.shape == (height, width, 3) and tiled.dtype == np.float32
    np.testing.assert_allclose(tiled, reference, atol=1e-4, rtol=0)
    one_piece = run_tiled(as_process(net), inputs, halo=4, options=TileOptions(tile=0))
    np.testing.assert_allclose(one_piece["image"], reference, atol=1e-4, rtol=0)


@pytest.mark.parametrize(("height", "width"), SIZES)
def test_tiled_equals_whole_at_scale_4(height: int, width: int) -> None:
    net = nn.Sequential(conv_net(3, 48, seed=2), nn.PixelShuffle(4)).eval()
    inputs = {"image": image(height, width)}
    options = TileOptions(tile=64, overlap=12, batch_size=3)
    tiled = run_tiled(as_process(net), inputs, halo=3, scale=4, options=options)["image"]
    assert tiled.shape == (4 * height, 4 * width, 3)
    np.testing.assert_allclose(tiled, whole(net, inputs["image"]), atol=1e-4, rtol=0)


def test_multiple_pads_each_tile() -> None:
    torch.manual_seed(3)
    down, up = nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ConvTranspose2d(8, 3, 2, stride=2)
    sizes = []

    def process(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = batch["image"]
        assert x.shape[-2] % 8 == 0 and x.shape[-1] % 8 == 0
        sizes.append(tuple(x.shape[-2:]))
        y = x
        for _ in range(3):
            y = down(y) if y.shape[1] == 3 else F.avg_pool2d(y, 2)
        y = F.interpolate(y, scale_factor=4, mode="nearest")
        return {"image": x + up(y)}

    for height, width, tile in [(157, 203, 64), (5, 3, 64), (1, 77, 64), (157, 203, 0)]:
        options = TileOptions(tile=tile, overlap=16)
        out = run_tiled(
            process, {"image": image(height, width)}, halo=8, multiple=8, options=options
        )
        assert out["image"].shape == (height, width, 3)
    assert (64, 64) in sizes and (8, 8) in sizes and (160, 208) in sizes


def test_blending_hides_per_tile_offsets() -> None:
    rng = np.random.default_rng(6)

    def offset(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = batch["image"]
        shift = torch.from_numpy(rng.choice([0.0, 1.0], len(x)).astype(np.float32))
        return {"image": x + shift.view(-1, 1, 1, 1)}

    height, width = 300, 400
    ramp = np.linspace(0, 1, width, dtype=np.float32)
    inputs = {"image": np.broadcast_to(ramp[None, :, None], (height, width, 1))}
    options = TileOptions(tile=100, overlap=32, batch_size=5)
    out = run_tiled(offset, inputs, halo=4, options=options)["image"][..., 0]
    # neighbouring tiles differ by up to 1.0; unblended, a seam would jump by 1.0
    jump_x = np.abs(np.diff(out, axis=1)).max()
    jump_y = np.abs(np.diff(out, axis=0)).max()
    assert max(jump_x, jump_y) < 0.1
    assert out.min() >= 0 and out.max() <= 2

    constant = run_tiled(
        lambda batch: {"image": torch.full_like(batch["image"], 0.3)},
        inputs,
        halo=4,
        options=options,
    )["image"]
    np.testing.assert_allclose(constant, 0.3, atol=1e-6, rtol=0)


def test_batching_and_progress() -> None:
    batch_sizes = []
    reports = []

    def process(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        batch_sizes.append(batch["image"].shape[0])
        assert batch["image"].shape[-2:] == (64, 64)
        return {"image": batch["image"]}

    inputs = {"image": image(157, 203)}  # 3 rows x 4 columns of 64 px tiles, stride 52
    options = TileOptions(tile=64, overlap=12, batch_size=5)
    out = run_tiled(
        process, inputs, halo=4, options=options, progress=lambda d, t: reports.append((d, t))
    )
    assert batch_sizes == [5, 5, 2]
    assert reports == [(0, 12), (5, 12), (10, 12), (12, 12)]
    np.testing.assert_allclose(out["image"], inputs["image"], atol=1e-6)


def test_odd_shapes_and_channels() -> None:
    for height, width in [(1, 1), (7, 3000), (3000, 2), (1, 5000)]:
        inputs = {"image": image(height, width), "mask": image(height, width, 1)[..., 0]}
        out = run_tiled(
            lambda batch: {"image": batch["image"] * batch["mask"]},
            inputs,
            halo=4,
            options=TileOptions(tile=256),
        )
        np.testing.assert_allclose(
            out["image"], inputs["image"] * inputs["mask"][..., None], atol=1e-6
        )


def test_image_and_mask_tiled_consistently() -> None:
    net = conv_net(2, 3, seed=4)

    def process(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"image": net(batch["image"]) * batch["mask"], "mask": batch["mask"]}

    inputs = {"image": image(150, 170), "mask": (image(150, 170, 1, seed=5) > 0.5).astype("f4")}
    tiled = run_tiled(process, inputs, halo=2, options=TileOptions(tile=48, overlap=8))
    reference = run_tiled(process, inputs, halo=2, options=TileOptions(tile=0))
    assert tiled["image"].shape == (150, 170, 3) and tiled["mask"].shape == (150, 170, 1)
    np.testing.assert_allclose(tiled["image"], reference["image"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(tiled["mask"], inputs["mask"], atol=1e-6, rtol=0)


def identity(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return batch


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="differ"):
        run_tiled(identity, {"a": image(10, 10), "b": image(10, 11)}, halo=0)
    with pytest.raises(ValueError, match="float32"):
        run_tiled(identity, {"a": np.zeros((10, 10, 3))}, halo=0)
    with pytest.raises(ValueError, match="shape"):
        run_tiled(lambda b: {"a": b["a"][:, :, :-1]}, {"a": image(10, 10)}, halo=0)


def test_tile_smaller_than_overlap_is_raised() -> None:
    calls: list[tuple[int, ...]] = []

    def spy(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        calls.append(tuple(batch["a"].shape))
        return batch

    inputs = {"a": image(200, 200)}
    out = run_tiled(spy, inputs, halo=20, options=TileOptions(tile=40, batch_size=1))
    np.testing.assert_allclose(out["a"], inputs["a"], atol=1e-6)
    assert {shape[-1] for shape in calls} == {84}  # 2 x overlap (2 * halo + 2)


def test_cancel_from_progress() -> None:
    token = CancelToken()
    calls = []

    def process(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        calls.append(1)
        return batch

    with pytest.raises(Cancelled):
        run_tiled(
            process,
            {"image": image(200, 200)},
            halo=2,
            options=TileOptions(tile=64, overlap=8, batch_size=2),
            progress=lambda done, total: token.cancel() if done else None,
            cancel=token,
        )
    assert token.cancelled and len(calls) == 1


class Identity(Stage):
    name = "test.identity"
    tiling: ClassVar[Tiling] = Tiling(halo=4, precisions=("float32", "bfloat16"))

    def process(self, inputs, params):
        return {"image": inputs["image"] * 1.0}


class OomAbove128(Stage):
    name = "test.oom"
    tiling: ClassVar[Tiling] = Tiling(halo=4)
    sides: ClassVar[list[int]] = []

    def process(self, inputs, params):
        side = max(inputs["image"].shape[-2:])
        self.sides.append(side)
        if side > 128:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return {"image": inputs["image"] * 2}


class AlwaysOom(Stage):
    name = "test.always_oom"
    tiling: ClassVar[Tiling] = Tiling(halo=4)
    sides: ClassVar[list[int]] = []

    def process(self, inputs, params):
        self.sides.append(max(inputs["image"].shape[-2:]))
        raise RuntimeError("DefaultCPUAllocator: not enough memory: you tried... out of memory")


def test_run_stage_precision() -> None:
    cpu = torch.device("cpu")
    inputs = {"image": image(40, 50)}
    out = run_stage(Identity(cpu), inputs, StageParams(), TileOptions(precision="bfloat16"))
    assert out["image"].dtype == np.float32
    np.testing.assert_allclose(out["image"], inputs["image"], atol=1e-2)
    with pytest.raises(ValueError, match="precision"):
        run_stage(Identity(cpu), inputs, StageParams(), TileOptions(precision="float16"))


def test_out_of_memory_halves_tiles(caplog: pytest.LogCaptureFixture) -> None:
    stage = OomAbove128(torch.device("cpu"))
    inputs = {"image": image(300, 260)}
    with caplog.at_level(logging.WARNING, logger="restore.engine.tiling"):
        out = run_stage(stage, inputs, StageParams(), TileOptions(tile=512))
    np.testing.assert_allclose(out["image"], 2 * inputs["image"], atol=1e-6)
    assert stage.sides[:2] == [300, 150] and set(stage.sides[2:]) == {75}
    assert "out of memory" in caplog.text


def test_out_of_memory_gives_up_at_the_minimum() -> None:
    stage = AlwaysOom(torch.device("cpu"))
    with pytest.raises(RuntimeError, match="out of memory"):
        run_stage(stage, {"image": image(300, 300)}, StageParams(), TileOptions(tile=512))
    assert stage.sides == [300, 150, 75, 64]


class Lowres(Stage):
    name = "test.lowres"
    tiling: ClassVar[Tiling] = Tiling(policy=TilePolicy.LOWRES, working_size=64, multiple=4)
    seen: ClassVar[list[tuple[int, ...]]] = []

    def process(self, inputs, params):
        self.seen.append(tuple(inputs["image"].shape))
        return {"image": 1 - inputs["image"]}


class SizedParams(StageParams):
    working_size: int = 32


class LowresSized(Lowres):
    name = "test.lowres_sized"
    Params = SizedParams


def test_lowres_works_on_a_small_copy() -> None:
    stage = Lowres(torch.device("cpu"))
    inputs = {"image": np.full((150, 200, 3), 0.25, np.float32)}
    out = run_stage(stage, inputs, StageParams())
    assert stage.seen[-1] == (1, 3, 48, 64)
    assert out["image"].shape == (150, 200, 3)
    np.testing.assert_allclose(out["image"], 0.75, atol=1e-5)

    run_stage(stage, {"image": image(30, 20)}, StageParams())  # never upscaled
    assert stage.seen[-1] == (1, 3, 32, 20)  # 30 padded to the multiple of 4

    sized = LowresSized(torch.device("cpu"))
    out = run_stage(sized, {"image": image(100, 300), "mask": image(100, 300, 1)}, SizedParams())
    assert sized.seen[-1] == (1, 3, 12, 32)  # 100 * 32 / 300 rounds to 11, padded to 12
    assert out["image"].shape == (100, 300, 3)


def test_whole_policy_runs_one_piece() -> None:
    class Whole(Identity):
        name = "test.whole"
        tiling: ClassVar[Tiling] = Tiling(policy=TilePolicy.WHOLE, halo=0)
        sides: ClassVar[list[tuple[int, ...]]] = []

        def process(self, inputs, params):
            self.sides.append(tuple(inputs["image"].shape))
            return super().process(inputs, params)

    stage = Whole(torch.device("cpu"))
    run_stage(stage, {"image": image(700, 900)}, StageParams(), TileOptions(tile=128))
    assert stage.sides == [(1, 3, 700, 900)]


def test_memory_has_no_full_size_accumulators() -> None:
    size = 2048 * 2048 * 3 * 4
    tracemalloc.start()
    try:
        inputs = {"image": np.ones((2048, 2048, 3), np.float32)}
        tracemalloc.reset_peak()
        out = run_tiled(identity, inputs, halo=8, options=TileOptions(tile=512))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out["image"].shape == (2048, 2048, 3)
    np.testing.assert_allclose(out["image"][::97, ::89], 1.0, atol=1e-6)
    assert peak < 2.6 * size, f"peak {peak / size:.2f} x the input"


def test_tiles_sit_on_the_multiple_grid() -> None:
    """A stage equivariant only to shifts by 8 (8x8 block means) tiles exactly."""

    def block_means(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = batch["image"]
        return {"image": x + F.interpolate(F.avg_pool2d(x, 8), scale_factor=8.0, mode="nearest")}

    for height, width in [(157, 203), (64, 300), (97, 33)]:
        inputs = {"image": image(height, width)}
        whole = run_tiled(block_means, inputs, halo=8, multiple=8, options=TileOptions(tile=0))
        tiled = run_tiled(
            block_means, inputs, halo=8, multiple=8, options=TileOptions(tile=60, overlap=20)
        )
        np.testing.assert_allclose(tiled["image"], whole["image"], atol=1e-5, rtol=0)


class RecordedTile(Stage):
    """Records its model calls (with the batch size) and the progress reports, in order."""

    name = "test.recorded_tile"
    tiling: ClassVar[Tiling] = Tiling(halo=4)

    def __init__(self, device: torch.device) -> None:
        super().__init__(device)
        self.events: list[object] = []

    def progress(self, done: int, total: int) -> None:
        self.events.append((done, total))

    def process(self, inputs, params):
        self.events.append(("process", inputs["image"].shape[0]))
        return {"image": inputs["image"]}


class RecordedWhole(RecordedTile):
    name = "test.recorded_whole"
    tiling: ClassVar[Tiling] = Tiling(policy=TilePolicy.WHOLE)


class RecordedTint(Tint):
    """tests/fakes.py's LOWRES stage, recording its calls and the progress reports."""

    name = "test.recorded_tint"
    progress = RecordedTile.progress

    def __init__(self, device: torch.device) -> None:
        super().__init__(device)
        self.events: list[object] = []

    def process(self, inputs, params):
        self.events.append("process")
        return super().process(inputs, params)

    def transfer(self, full, low_outputs, params):
        self.events.append("transfer")
        return super().transfer(full, low_outputs, params)


def test_tile_stage_reports_zero_then_every_batch() -> None:
    stage = RecordedTile(torch.device("cpu"))
    options = TileOptions(tile=64, overlap=12, batch_size=5)  # 3 x 4 tiles of 64 px
    run_stage(stage, {"image": image(157, 203)}, StageParams(), options, stage.progress)
    assert stage.events == [
        (0, 12),
        ("process", 5),
        (5, 12),
        ("process", 5),
        (10, 12),
        ("process", 2),
        (12, 12),
    ]


def test_whole_stage_reports_before_and_after_its_one_call() -> None:
    stage = RecordedWhole(torch.device("cpu"))
    run_stage(
        stage, {"image": image(300, 400)}, StageParams(), TileOptions(tile=64), stage.progress
    )
    assert stage.events == [(0, 1), ("process", 1), (1, 1)]


def test_lowres_stage_counts_the_pass_and_the_transfer() -> None:
    stage = RecordedTint(torch.device("cpu"))
    out = run_stage(stage, {"image": image(100, 150, 1)}, StageParams(), progress=stage.progress)
    assert out["image"].shape == (100, 150, 3)
    assert stage.events == [(0, 2), "process", (1, 2), "transfer", (2, 2)]


def test_lowres_stage_cancelled_after_the_pass_skips_the_transfer() -> None:
    stage = RecordedTint(torch.device("cpu"))
    token = CancelToken()

    def progress(done: int, total: int) -> None:
        stage.progress(done, total)
        if done == 1:
            token.cancel()

    with pytest.raises(Cancelled):
        run_stage(
            stage, {"image": image(100, 150, 1)}, StageParams(), progress=progress, cancel=token
        )
    assert stage.events == [(0, 2), "process", (1, 2)]


def test_out_of_memory_restarts_progress() -> None:
    stage = OomAbove128(torch.device("cpu"))
    reports: list[tuple[int, int]] = []
    run_stage(
        stage,
        {"image": image(300, 260)},
        StageParams(),
        TileOptions(tile=512, batch_size=1),
        progress=lambda done, total: reports.append((done, total)),
    )
    # 512 px (one tile) and 150 px tiles fail at once; 75 px tiles run to the end
    total = reports[-1][1]
    assert reports[:3] == [(0, 1), (0, reports[1][1]), (0, total)]
    assert reports[1][1] > 1 and total > reports[1][1]
    assert [done for done, _ in reports[2:]] == list(range(total + 1))
