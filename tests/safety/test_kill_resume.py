"""A batch killed with SIGKILL at random points and rerun with --skip-existing ends
complete and clean: every image done, every output decodes, nothing else in OUT."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from corpus import encode
from harness import snapshot, summary

from restore.io.images import read_image

RESTORE = Path(sys.executable).with_name("restore")
# Richardson-Lucy makes each image take a moment; the main output and a mask per image.
SLOW_PIPELINE = """\
nodes:
  - {id: deblur, uses: deblur.richardson_lucy, params: {iterations: 8}}
  - {id: sharpen, uses: sharpen.unsharp}
  - {id: damage, uses: inpaint.damage_mask}
outputs:
  - {node: sharpen}
  - {node: damage, port: mask, suffix: .mask}
"""
IMAGES = [f"img{i:02d}.png" for i in range(8)] + [f"sub/pic{i}.jpg" for i in range(4)]
SIZE = (192, 256)
KILLS = 3


def expected_outputs() -> set[str]:
    found = set()
    for name in IMAGES:
        stem, ext = name.rsplit(".", 1)
        found |= {f"{stem}.{ext}", f"{stem}.mask.png"}
    return found


def start(pipe: Path, source: Path, out: Path, log: Path) -> subprocess.Popen:
    command = [RESTORE, "run", pipe, source, "-o", out, "-q", "--tile", "16", "--skip-existing"]
    with log.open("ab") as sink:
        return subprocess.Popen(
            [str(c) for c in command], stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )


def listing(folder: Path) -> tuple[set[str], set[str]]:
    """The visible files and the hidden entries (writes in progress) under ``folder``."""
    visible, hidden = set(), set()
    for parent, dirs, files in os.walk(folder):
        for name in [*dirs, *files]:
            key = os.path.relpath(os.path.join(parent, name), folder)
            if any(part.startswith(".") for part in Path(key).parts):
                hidden.add(key)
            elif name in files:
                visible.add(key)
    return visible, hidden


def wait_for_kill_point(
    process: subprocess.Popen, out: Path, outputs: int, mid_write: bool
) -> bool:
    """Wait until this run has written ``outputs`` more visible files and, with
    ``mid_write``, then until a new hidden entry (a write in progress) shows up; False
    when the process ended first."""
    deadline = time.monotonic() + 60
    start, _ = listing(out)
    while process.poll() is None and time.monotonic() < deadline:
        visible, hidden = listing(out)
        if len(visible - start) >= outputs:
            break
        time.sleep(0.002)
    _, seen = listing(out)
    while mid_write and process.poll() is None and time.monotonic() < deadline:
        _, hidden = listing(out)
        if hidden - seen:
            break
        seen |= hidden
        time.sleep(0.0005)
    return process.poll() is None


def test_kill_and_resume(tmp_path: Path) -> None:
    source, out, pipe, log = (
        tmp_path / "in",
        tmp_path / "out",
        tmp_path / "pipe.yaml",
        tmp_path / "log",
    )
    pipe.write_text(SLOW_PIPELINE)
    for i, name in enumerate(IMAGES):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(encode(name.rsplit(".", 1)[1], *SIZE, seed=i))
    inputs = snapshot(source)
    rng = random.Random(20240611)
    mid_batch = []
    for round_ in range(KILLS):
        process = start(pipe, source, out, log)
        if round_ == 0:  # in the middle of a write, once the batch is under way
            point, alive = "a write in progress", wait_for_kill_point(process, out, 1, True)
        elif round_ == 1:  # after a random number of outputs and a random delay
            wanted = rng.randrange(1, 7)
            point, alive = f"{wanted} new outputs", wait_for_kill_point(process, out, wanted, False)
            time.sleep(rng.uniform(0, 0.15))
        else:  # while starting up
            delay = rng.uniform(0.2, 2.5)
            point, alive = f"{delay:.2f} s", True
            time.sleep(delay)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            if alive and round_ < 2:
                mid_batch.append(round_)
        process.wait(timeout=30)
        with log.open("a") as sink:
            sink.write(f"\n--- round {round_}: SIGKILL at {point} ---\n")
    assert mid_batch, "the batch always finished before the kill: nothing was tested"

    final = subprocess.run(
        [str(RESTORE), "run", str(pipe), str(source), "-o", str(out), "-q", "--skip-existing"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    history = log.read_text(errors="replace")
    report = f"--- final run ---\n{final.stdout}{final.stderr}\n--- killed runs ---\n{history}"
    assert "Traceback" not in final.stdout + final.stderr, report
    assert final.returncode == 0, f"the rerun exited {final.returncode}\n{report}"
    counts = summary(final.stdout + final.stderr)
    assert counts is not None and counts.failed == 0, report
    assert counts.done + counts.skipped == len(IMAGES), f"{counts}\n{report}"

    files = {k for k, e in snapshot(out).items() if e.kind != "dir"}
    folders = {k for k, e in snapshot(out).items() if e.kind == "dir"}
    assert files == expected_outputs(), (
        f"OUT after the rerun: unexpected {sorted(files - expected_outputs())}, "
        f"missing {sorted(expected_outputs() - files)}\n{report}"
    )
    assert folders == {"sub"}, f"unexpected folders in OUT: {sorted(folders - {'sub'})}\n{report}"
    for name in sorted(files):
        image = read_image(out / name)
        assert image.pixels.shape[:2] == SIZE, f"{name}: {image.pixels.shape}"
    assert snapshot(source) == inputs, "an input changed"
