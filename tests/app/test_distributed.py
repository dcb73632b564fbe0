"""``--engine ray`` on a local two-CPU Ray: the local batch's results and rules,
and nothing lost when a worker dies or the driver is interrupted."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import ray
from typer.testing import CliRunner

from restore.app.cli.main import app
from restore.app.distributed.engine import ClusterOptions, run_on_ray
from restore.app.distributed.report import REPORT_NAME, read_report
from restore.app.pipeline import Pipeline
from restore.app.runner import BatchObserver, BatchRunner, FileOutcome
from restore.io.images import read_image, write_image
from restore.io.staging import STAGING_FOLDER
from restore.testing import synthetic_photo

ROOT = Path(__file__).resolve().parents[2]
SHARPEN = ROOT / "examples" / "pipelines" / "sharpen.yaml"
DENOISE = ROOT / "examples" / "pipelines" / "denoise.yaml"
TILING = {"tile": 64, "overlap": 16, "batch_size": 4, "device": "cpu"}
cli = CliRunner()


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def photos(folder: Path, count: int, size: int = 96) -> Path:
    for index in range(count):
        write_image(folder / f"p{index}.png", synthetic_photo(size, size + 8, seed=index))
    return folder


def leftovers(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if STAGING_FOLDER in p.parts or p.name.endswith(".tmp")]


def on_ray(
    pipeline: Path,
    source: Path,
    out: Path,
    *,
    workers: int = 2,
    skip_existing: bool = False,
    observer: BatchObserver | None = None,
) -> tuple[list[FileOutcome], list[dict]]:
    loaded = Pipeline.from_yaml(pipeline)
    runner = BatchRunner(loaded, out, loaded.tile_options(**TILING), skip_existing=skip_existing)
    done = run_on_ray(loaded, source, runner, TILING, ClusterOptions(workers=workers), observer)
    return done.outcomes, read_report(done.report, done.run)


def test_outputs_are_bit_identical_to_local_and_the_report_lists_every_file(
    tmp_path: Path,
) -> None:
    source = photos(tmp_path / "in", 4)
    (source / "nested").mkdir()
    write_image(source / "nested" / "q.jpg", synthetic_photo(70, 50, seed=9))
    (source / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n but not really")
    local, distributed = tmp_path / "local", tmp_path / "ray"
    tile = ["--tile", "64", "--overlap", "16", "--device", "cpu", "-q"]
    assert cli.invoke(app, [str(SHARPEN), str(source), "-o", str(local), *tile]).exit_code == 1
    result = cli.invoke(
        app, [str(SHARPEN), str(source), "-o", str(distributed), *tile, "--engine", "ray"]
    )
    assert result.exit_code == 1, result.output  # one bad file fails alone
    assert "5 done, 0 skipped, 1 failed" in result.output
    written = sorted(p.relative_to(local) for p in local.rglob("*") if p.is_file())
    assert written == sorted(
        p.relative_to(distributed)
        for p in distributed.rglob("*")
        if p.is_file() and p.name != REPORT_NAME
    )
    for relative in written:
        ours, theirs = read_image(distributed / relative), read_image(local / relative)
        np.testing.assert_array_equal(ours.pixels, theirs.pixels)
    records = [json.loads(line) for line in (distributed / REPORT_NAME).read_text().splitlines()]
    assert sorted(Path(r["input"]).name for r in records) == sorted(
        ["p0.png", "p1.png", "p2.png", "p3.png", "q.jpg", "broken.png"]
    )
    bad = next(r for r in records if r["input"].endswith("broken.png"))
    assert bad["status"] == "failed" and "broken.png" in bad["error"]
    assert all(r["worker"] and r["seconds"] >= 0 for r in records)
    assert not leftovers(distributed)


def test_a_killed_worker_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    source = photos(tmp_path / "in", 8, size=160)
    out = tmp_path / "out"
    killed: list[int] = []

    def kill_a_worker() -> None:  # the worker of the first result, while it has more queued
        report = out / REPORT_NAME
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            lines = report.read_text().splitlines() if report.exists() else []
            if lines:
                pid = int(json.loads(lines[0])["worker"].rpartition(":")[2])
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.05)

    killer = threading.Thread(target=kill_a_worker)
    killer.start()
    outcomes, records = on_ray(DENOISE, source, out)
    killer.join()
    assert killed
    assert [o.status for o in outcomes] == ["done"] * 8
    assert sorted(Path(r["input"]).name for r in records) == [f"p{i}.png" for i in range(8)]
    assert sorted(p.name for p in out.glob("*.png")) == [f"p{i}.png" for i in range(8)]
    for index in range(8):
        assert read_image(out / f"p{index}.png").pixels.shape == (160, 168, 3)
    assert not leftovers(out)


class Interrupt(BatchObserver):
    """Ctrl-C after the first finished file."""

    def file_finished(self, outcome: FileOutcome) -> None:
        raise KeyboardInterrupt


def test_skip_existing_after_an_interrupted_run_does_only_what_is_missing(
    tmp_path: Path,
) -> None:
    source = photos(tmp_path / "in", 6)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        on_ray(SHARPEN, source, out, observer=Interrupt())
    first = {p.name for p in out.glob("*.png")}  # workers may still be finishing others
    outcomes, records = on_ray(SHARPEN, source, out, skip_existing=True)
    assert {o.status for o in outcomes} <= {"done", "skipped"}
    assert sorted(Path(r["input"]).name for r in records) == [f"p{i}.png" for i in range(6)]
    assert first <= {Path(r["input"]).name for r in records if r["status"] == "skipped"}
    assert sorted(p.name for p in out.glob("*.png")) == [f"p{i}.png" for i in range(6)]
    assert not leftovers(out)


def test_a_local_run_never_imports_ray(tmp_path: Path) -> None:
    import subprocess
    import sys

    source = photos(tmp_path / "in", 1)
    script = (
        "import sys\nfrom restore.app.cli.main import app\n"
        f"try:\n    app([{str(SHARPEN)!r}, {str(source)!r}, '-o', {str(tmp_path / 'o')!r}, '-q'])\n"
        "except SystemExit:\n    pass\n"
        "print('ray' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip().splitlines()[-1] == "False", done.stderr
    assert (tmp_path / "o" / "p0.png").exists()
