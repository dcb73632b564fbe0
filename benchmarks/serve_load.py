"""Load test of ``restore serve``: many users uploading photos at once.

Starts ``restore serve`` on 127.0.0.1 (a free port, its own temporary --data),
then N users (threads, each its own session) upload a synthesized photo, retry
after Retry-After when the queue is full (a bounded number of times), poll until
their job ends and download the result. Meanwhile GET /api/health is timed.
Everything stops by itself by --timeout; the server is stopped at the end.

    python benchmarks/serve_load.py [--users 50] [--workers 2] [--queue 20]
        [--pipeline denoise] [--megapixels 1] [--timeout 600]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import numpy as np
from PIL import Image

HOST = "127.0.0.1"  # loopback only, ever
ROOT = Path(__file__).resolve().parents[1]
TERMINAL = ("succeeded", "failed", "canceled")


@dataclass
class Outcome:
    """What happened to one user."""

    accepted: bool = False
    finished: bool = False
    succeeded: bool = False
    refusals: int = 0  # answers 429
    error: str | None = None
    seconds: float | None = None  # from the first upload attempt to the result downloaded
    done_at: float | None = None


def photo(megapixels: float, seed: int) -> bytes:
    """A noisy synthetic 4:3 photo (smooth shading, discs, texture) as PNG bytes."""
    width = round(math.sqrt(megapixels * 1e6 * 4 / 3))
    height = round(width * 3 / 4)
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    shade = 0.5 + 0.3 * np.sin(x / width * 3.1 + seed) * np.cos(y / height * 2.3)
    image = np.stack([shade, shade * 0.8 + 0.1, 1.0 - shade * 0.7], axis=2)
    for _ in range(12):
        cy, cx, radius = rng.integers(0, height), rng.integers(0, width), rng.integers(8, 120)
        image[(y - cy) ** 2 + (x - cx) ** 2 < radius**2] = rng.uniform(0.05, 0.95, size=3)
    image += rng.normal(0, 0.08, image.shape).astype(np.float32)
    pixels = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def free_port() -> int:
    """A port on the loopback address that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_server(
    args: argparse.Namespace, data: Path, port: int, log: IO[str]
) -> subprocess.Popen[bytes]:
    """``restore serve`` on the loopback address, in its own process group."""
    script = Path(sys.executable).with_name("restore")
    command = [str(script)]
    if not script.exists():
        command = [sys.executable, "-c", "from restore.app.cli.main import main; main()"]
    options = {
        "--host": HOST,
        "--port": port,
        "--workers": args.workers,
        "--queue": args.queue,
        "--data": data,
        "--pipelines": args.pipelines,
        "--device": args.device,
    }
    command += ["serve", *(str(part) for pair in options.items() for part in pair)]
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """Stop the server (Ctrl-C first, so it stops its workers), then its whole group."""
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # workers left behind, if any
    server.wait()


def wait_until_up(base: str, server: subprocess.Popen[bytes], deadline: float) -> None:
    """Return once GET /api/health answers; RuntimeError if the server died or is late."""
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError("the server did not start in time")


def user(base: str, args: argparse.Namespace, image: bytes, deadline: float, out: Outcome) -> None:
    """One user: upload (retrying after 429), poll until done, download the result."""
    started = time.monotonic()
    with httpx.Client(base_url=base, timeout=60) as client:
        try:
            job_id = None
            while job_id is None:
                files = {"file": ("photo.png", image, "image/png")}
                response = client.post("/api/jobs", data={"pipeline": args.pipeline}, files=files)
                if response.status_code == 202:
                    job_id = response.json()["id"]
                elif response.status_code == 429 and out.refusals < args.retries:
                    out.refusals += 1
                    pause = float(response.headers.get("retry-after", "1"))
                    if time.monotonic() + pause > deadline:
                        out.error = "gave up: the queue stayed full until the timeout"
                        return
                    time.sleep(pause)
                else:
                    out.refusals += response.status_code == 429
                    out.error = f"upload answered {response.status_code}: {response.text[:100]}"
                    return
            out.accepted = True
            while time.monotonic() < deadline:
                status = client.get(f"/api/jobs/{job_id}").json()
                if status["status"] in TERMINAL:
                    break
                time.sleep(args.poll)
            else:
                out.error = "the job did not finish before the timeout"
                return
            out.finished = True
            if status["status"] != "succeeded":
                out.error = f"job {status['status']}: {status['error']}"
                return
            result = client.get(f"/api/jobs/{job_id}/result")
            if result.status_code != 200 or not result.content:
                out.error = f"result answered {result.status_code}"
                return
            out.succeeded = True
            out.done_at = time.monotonic()
            out.seconds = out.done_at - started
        except httpx.HTTPError as error:
            out.error = f"{type(error).__name__}: {error}"


def sample_health(base: str, stop: threading.Event, latencies: list[float]) -> None:
    """Time GET /api/health every 0.25 s until ``stop``."""
    with httpx.Client(base_url=base, timeout=10) as client:
        while not stop.wait(0.25):
            began = time.perf_counter()
            with contextlib.suppress(httpx.HTTPError):
                if client.get("/api/health").status_code == 200:
                    latencies.append((time.perf_counter() - began) * 1000)


def percentile(values: list[float], fraction: float) -> float | None:
    """The ``fraction`` quantile of ``values`` (None when there are none)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queue", type=int, default=20)
    parser.add_argument("--pipeline", default="denoise", help="a pipeline name in --pipelines")
    parser.add_argument("--pipelines", type=Path, default=ROOT / "examples" / "pipelines")
    parser.add_argument("--megapixels", type=float, default=1.0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--retries", type=int, default=50, help="429 retries per user")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between status polls")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for the whole run")
    args = parser.parse_args()

    began = time.monotonic()
    deadline = began + args.timeout
    images = [photo(args.megapixels, seed) for seed in range(4)]
    data = Path(tempfile.mkdtemp(prefix="restore-serve-load-"))
    port = free_port()
    base = f"http://{HOST}:{port}"
    outcomes = [Outcome() for _ in range(args.users)]
    latencies: list[float] = []
    with (data / "server.log").open("w") as log:
        server = start_server(args, data / "data", port, log)
        try:
            wait_until_up(base, server, min(deadline, time.monotonic() + 180))
            stop = threading.Event()
            sampler = threading.Thread(target=sample_health, args=(base, stop, latencies))
            sampler.start()
            start = time.monotonic()
            users = [
                threading.Thread(
                    target=user, args=(base, args, images[i % len(images)], deadline, outcomes[i])
                )
                for i in range(args.users)
            ]
            for thread in users:
                thread.start()
            for thread in users:
                thread.join(max(0.0, deadline - time.monotonic()) + 70)
            stop.set()
            sampler.join()
        except RuntimeError as problem:
            print(f"error: {problem}", file=sys.stderr)
            print((data / "server.log").read_text()[-3000:], file=sys.stderr)
            raise SystemExit(1) from None
        finally:
            stop_server(server)
    shutil.rmtree(data, ignore_errors=True)

    done = [o for o in outcomes if o.succeeded]
    seconds = [o.seconds for o in done if o.seconds is not None]
    last = max((o.done_at for o in done if o.done_at is not None), default=None)
    throughput = len(done) / (last - start) * 60 if last and last > start else None
    accepted = sum(o.accepted for o in outcomes)
    finished = sum(o.finished for o in outcomes)
    errors = [o.error for o in outcomes if o.error]
    rows = [
        ("users", str(args.users)),
        ("workers", str(args.workers)),
        ("pipeline", f"{args.pipeline} on {args.megapixels:g} MP PNG"),
        ("throughput (images/min)", number(throughput)),
        ("time to result p50 (s)", number(percentile(seconds, 0.5))),
        ("time to result p95 (s)", number(percentile(seconds, 0.95))),
        ("429 answers", str(sum(o.refusals for o in outcomes))),
        ("errors", str(len(errors))),
        ("accepted jobs", str(accepted)),
        ("finished jobs", str(finished)),
        ("every accepted job finished", "yes" if accepted == finished else "no"),
        ("health p50 (ms)", number(percentile(latencies, 0.5))),
        ("health p95 (ms)", number(percentile(latencies, 0.95))),
        ("health samples", str(len(latencies))),
        ("wall seconds", number(time.monotonic() - began)),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"| {'measure':<{width}} | value |\n|{'-' * (width + 2)}|------:|")
    for name, value in rows:
        print(f"| {name:<{width}} | {value} |")
    for message in sorted(set(errors))[:5]:
        print(f"error: {message}", file=sys.stderr)
    if errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
