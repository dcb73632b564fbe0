"""The web service's API, in process (TestClient), with real worker processes.

One server with one worker is shared by most tests; servers without workers
show queueing, limits, restarts and expiry without waiting for any work.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sqlite3
import struct
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from webhelpers import decoded, png, settings_for, submit, wait

from restore.app.cli.main import app as cli
from restore.app.web import supervisor
from restore.app.web.middleware import UploadLimit
from restore.app.web.server import create_app
from restore.app.web.settings import Settings
from restore.app.web.store import Measured, Store
from restore.app.web.uploads import UploadError, disposition, receive_form


@pytest.fixture(scope="module")
def server(
    web_plugins: None, pipelines: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The shared server: one worker."""
    data = tmp_path_factory.mktemp("shared")
    with TestClient(create_app(settings_for(data, pipelines))) as client:
        yield client


@pytest.fixture(scope="module")
def paused(
    web_plugins: None, pipelines: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """A server without workers: jobs stay queued; at most 2 may wait."""
    data = tmp_path_factory.mktemp("paused")
    with TestClient(create_app(settings_for(data, pipelines, workers=0, queue=2))) as client:
        yield client


def service(client: TestClient) -> Any:
    return client.app.state.service  # type: ignore[attr-defined]


def finished(client: TestClient, pipeline: str = "restore", **form: Any) -> dict[str, Any]:
    """Submit a job and wait for its end."""
    response = submit(client, pipeline, **form)
    assert response.status_code == 202, response.text
    return wait(client, response.json()["id"])


FORM_HEADERS = {"content-type": "multipart/form-data; boundary=b"}


def one_file_form(content: bytes) -> bytes:
    """The tail of a multipart body (boundary ``b``): one file part ``a.png``."""
    disposition = b'Content-Disposition: form-data; name=file; filename="a.png"'
    return b"--b\r\n" + disposition + b"\r\n\r\n" + content + b"\r\n--b--\r\n"


async def byte_by_byte(body: bytes) -> AsyncIterator[bytes]:
    """``body`` as a client might send it at worst: one byte per chunk."""
    for index in range(len(body)):
        yield body[index : index + 1]


def header_only_png(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` with next to no data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 16)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


# ---------------------------------------------------------------- reading


def test_health(server: TestClient) -> None:
    body = server.get("/api/health").json()
    assert body == {"status": "ok", "queued": 0, "running": 0, "workers": 1}


def test_pipelines_describe_nodes_and_limits(server: TestClient) -> None:
    body = server.get("/api/pipelines").json()
    pipelines = {p["name"]: p for p in body["pipelines"]}
    assert set(pipelines) == {"crash", "denoise", "restore", "slow"}
    restore = pipelines["restore"]
    assert restore["title"] == "Restore" and restore["description"].startswith("Optional")
    nodes = {node["id"]: node for node in restore["nodes"]}
    sharpen = nodes["sharpen"]
    assert sharpen["stage"] == "sharpen.unsharp" and sharpen["summary"]
    assert (sharpen["enabled"], sharpen["optional"]) == (False, True)
    assert (nodes["damage"]["optional"], nodes["inpaint"]["optional"]) == (False, False)
    assert sharpen["schema"]["properties"]["strength"]["maximum"] == 5
    assert sharpen["values"] == {"strength": 0.5, "radius": 1.5, "threshold": 0.0}
    denoise = pipelines["denoise"]["nodes"][0]
    assert "weights" not in denoise["schema"]["properties"] and "weights" not in denoise["values"]
    assert "strength" in denoise["schema"]["properties"]
    assert body["limits"] == {
        "max_upload_bytes": 2 << 20,
        "max_pixels": 1_000_000,
        "max_megapixels_choices": [None, 1, 4, 12, 24],
    }


def test_unknown_job_and_route(server: TestClient) -> None:
    response = server.get("/api/jobs/nope")
    assert response.status_code == 404 and response.json() == {"error": "no job nope"}
    assert server.delete("/api/jobs/nope").status_code == 404
    assert server.get("/api/nothing").json() == {"error": "Not Found"}


def test_no_page_installed(server: TestClient) -> None:
    response = server.get("/")
    assert response.status_code == 404 and "not installed" in response.json()["error"]


def test_page_and_static_files(pipelines: Path, tmp_path: Path) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html><title>restore</title>")
    (static / "app.js").write_text("console.log(1)")
    settings = settings_for(tmp_path / "data", pipelines, workers=0, static=static)
    with TestClient(create_app(settings)) as client:
        page = client.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert client.get("/static/app.js").text == "console.log(1)"


# ---------------------------------------------------------------- a job's life


def test_job_lifecycle_result_mask_and_input(server: TestClient) -> None:
    upload = png(seed=3)
    response = submit(server, data=upload, filename="../Föto 1.png")
    assert response.status_code == 202
    job_id = response.json()["id"]
    assert response.json()["status_url"] == f"/api/jobs/{job_id}"
    status = wait(server, job_id)
    assert status["status"] == "succeeded", status
    assert status["progress"] == 1.0 and status["outputs"] == ["image", "mask"]
    assert (status["width"], status["height"], status["input_name"]) == (64, 64, "Föto 1.png")
    assert status["created"].endswith("Z") and status["queue_position"] is None

    result = server.get(f"/api/jobs/{job_id}/result")
    assert result.headers["content-type"] == "image/png"
    assert "filename*=UTF-8''F%C3%B6to%201-restored.png" in result.headers["content-disposition"]
    assert decoded(result.content).shape == (64, 64, 3)
    mask = server.get(f"/api/jobs/{job_id}/result", params={"port": "mask"})
    assert decoded(mask.content).shape == (64, 64)
    assert "-restored.mask.png" in mask.headers["content-disposition"]
    by_key = server.get(f"/api/jobs/{job_id}/result", params={"port": "damage.mask"})
    assert by_key.content == mask.content
    missing = server.get(f"/api/jobs/{job_id}/result", params={"port": "nope"})
    assert missing.status_code == 404 and "outputs: image, mask" in missing.json()["error"]
    assert server.get(f"/api/jobs/{job_id}/input").content == upload

    listed = server.get("/api/jobs").json()["jobs"]
    assert listed[0]["id"] == job_id

    assert server.delete(f"/api/jobs/{job_id}").json()["status"] == "canceled"
    assert server.get(f"/api/jobs/{job_id}/result").status_code == 404


def test_a_failing_job_says_why_and_the_worker_goes_on(server: TestClient) -> None:
    status = finished(server, data=header_only_png(64, 64), filename="aunt-mary.png")
    assert status["status"] == "failed" and status["error"].startswith("aunt-mary.png: ")
    assert str(service(server).settings.data) not in status["error"]
    record = next(r for r in server.get("/api/runs").json()["runs"] if r["job"] == status["id"])
    assert record["error"].startswith("the photo: ")  # records are seen by every session
    assert finished(server)["status"] == "succeeded"


def test_result_before_success_is_404(paused: TestClient) -> None:
    job_id = submit(paused).json()["id"]
    try:
        response = paused.get(f"/api/jobs/{job_id}/result")
        assert response.status_code == 404 and "it is queued" in response.json()["error"]
    finally:
        paused.delete(f"/api/jobs/{job_id}")


def test_params_override_applies(server: TestClient) -> None:
    params = {"sharpen": {"enabled": True, "strength": 2.0}}
    status = finished(server, params=json.dumps(params))
    assert status["status"] == "succeeded"
    record = server.get("/api/runs").json()["runs"][-1]
    assert record["job"] == status["id"] and record["params"] == params
    assert set(record["stage_seconds"]) == {"sharpen", "damage", "inpaint"}


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({"params": '{"nope": {}}'}, "unknown node 'nope'"),
        ({"params": '{"sharpen": {"strength": 99}}'}, "less than or equal to 5"),
        ({"params": '{"sharpen": {"colour": 1}}'}, "'colour' is unknown"),
        ({"params": '{"inpaint": {"enabled": false}}'}, "cannot be switched off"),
        ({"params": '{"sharpen": {"uses": "toy.add"}}'}, "sharpen.uses cannot be changed"),
        ({"params": "{not json"}, "not valid JSON"),
        ({"params": '{"sharpen": {"strength": NaN}}'}, "not valid JSON"),
        ({"params": '{"sharpen": {"strength": 1e400}}'}, "1e400 is too large"),
        ({"params": "[" * 5000}, "nested too deeply"),
        ({"params": "[1]"}, "expected"),
        ({"pipeline": "nope"}, "unknown pipeline 'nope'"),
        ({"pipeline": ""}, "pipeline: missing"),
        ({"max_megapixels": "-1"}, "must be a number above 0"),
        ({"max_megapixels": "many"}, "not a number"),
        ({"colour": "red"}, "unknown form field 'colour'"),
    ],
)
def test_bad_requests_are_422(paused: TestClient, form: dict[str, Any], problem: str) -> None:
    response = submit(paused, form.pop("pipeline", "restore"), **form)
    assert response.status_code == 422
    assert problem in response.json()["error"] and "\n" not in response.json()["error"]


def test_file_parameters_are_refused(paused: TestClient) -> None:
    params = json.dumps({"denoise": {"weights": "/etc/passwd"}})
    response = submit(paused, "denoise", params=params)
    assert response.status_code == 422 and "names a file" in response.json()["error"]


def test_max_megapixels_downscales(server: TestClient) -> None:
    status = finished(server, "restore", data=png(60, 80), max_megapixels="0.001")
    assert status["status"] == "succeeded"
    image = decoded(server.get(f"/api/jobs/{status['id']}/result").content)
    height, width = image.shape[:2]
    assert height * width <= 1000 and abs(width / height - 80 / 60) < 0.1
    record = server.get("/api/runs").json()["runs"][-1]
    assert (record["width"], record["height"]) == (width, height)
    assert (record["input_width"], record["input_height"]) == (80, 60)


# ---------------------------------------------------------------- limits


def test_upload_over_the_limit_by_content_length(paused: TestClient) -> None:
    body = b"x" * (3 << 20)
    headers = {"content-type": "multipart/form-data; boundary=b"}
    response = paused.post("/api/jobs", content=body, headers=headers)
    assert response.status_code == 413 and "limit of 2 MB" in response.json()["error"]


def test_upload_over_the_limit_while_streaming(paused: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"--b\r\nContent-Disposition: form-data; name=file; filename=a.png\r\n\r\n"
        for _ in range(6):
            yield b"\x89PNG\r\n\x1a\n" + b"x" * (1 << 19)

    headers = {"content-type": "multipart/form-data; boundary=b"}
    response = paused.post("/api/jobs", content=chunks(), headers=headers)
    assert response.status_code == 413
    assert not any((service(paused).settings.uploads).iterdir())


def test_upload_limit_stops_reading_the_body() -> None:
    """The middleware answers 413 once the count passes the limit, reading no further."""
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            await receive()

    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/api/jobs", "headers": []}
    asyncio.run(UploadLimit(app, max_bytes=10_500)(scope, receive, send))
    assert reads == 11 and sent[0]["status"] == 413


@pytest.mark.parametrize(("content", "status"), [(png(8, 8), None), (b"GIF89a" + b"\0" * 20, 415)])
def test_upload_format_is_sniffed_across_tiny_chunks(
    tmp_path: Path, content: bytes, status: int | None
) -> None:
    body = b"--b\r\nContent-Disposition: form-data; name=pipeline\r\n\r\nrestore\r\n"
    body += one_file_form(content)
    trickle = byte_by_byte(body)
    if status is not None:
        with pytest.raises(UploadError) as refused:
            asyncio.run(receive_form(FORM_HEADERS, trickle, tmp_path))
        assert refused.value.status == status and not any(tmp_path.iterdir())
        return
    upload = asyncio.run(receive_form(FORM_HEADERS, trickle, tmp_path))
    assert (upload.format, upload.filename, upload.fields) == (
        "PNG",
        "a.png",
        {"pipeline": "restore"},
    )
    assert upload.path.read_bytes() == content and upload.path.parent == tmp_path


def test_upload_in_tiny_chunks_takes_linear_time(tmp_path: Path) -> None:
    """A body sent a byte at a time is parsed on the event loop: its cost must grow with
    its size, not with its size squared (100 KB took about two minutes)."""
    content = b"\x89PNG\r\n\x1a\n" + b"x" * 100_000
    trickle = byte_by_byte(one_file_form(content))
    started = time.monotonic()
    upload = asyncio.run(receive_form(FORM_HEADERS, trickle, tmp_path))
    assert time.monotonic() - started < 20
    assert upload.path.read_bytes() == content


def test_download_names_hold_no_control_characters() -> None:
    header = disposition("a\r\nSet-Cookie: x=1\x00.png")
    assert not any(c in header for c in "\r\n\x00")
    assert header.startswith('attachment; filename="a__Set-Cookie: x=1_.png"; ')


def test_pixels_over_the_limit_from_the_header(paused: TestClient) -> None:
    response = submit(paused, data=header_only_png(40_000, 30_000))
    assert response.status_code == 413
    assert "40000 x 30000 pixels (1200.0 megapixels)" in response.json()["error"]


def test_not_an_image_is_415(paused: TestClient) -> None:
    response = submit(paused, data=b"hello, this is text\n" * 10, filename="notes.png")
    assert (
        response.status_code == 415 and "PNG, JPEG, TIFF, WebP or BMP" in response.json()["error"]
    )
    broken = submit(paused, data=b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    assert broken.status_code == 415 and "not a readable PNG" in broken.json()["error"]


def test_full_queue_is_429_with_retry_after(paused: TestClient) -> None:
    accepted = [submit(paused).json()["id"] for _ in range(2)]
    try:
        response = submit(paused)
        assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
        assert "queue is full" in response.json()["error"]
        assert paused.get("/api/health").json()["queued"] == 2
    finally:
        for job_id in accepted:
            paused.delete(f"/api/jobs/{job_id}")


def test_a_job_the_database_refuses_leaves_no_files(
    paused: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: Any) -> bool:
        raise sqlite3.OperationalError("database or disk is full")

    settings = service(paused).settings
    before = set(settings.jobs.iterdir())
    monkeypatch.setattr(service(paused).store, "add", full)
    client = TestClient(paused.app, raise_server_exceptions=False)
    response = submit(client)
    assert response.status_code == 500 and "OperationalError" in response.json()["error"]
    assert set(settings.jobs.iterdir()) == before and not any(settings.uploads.iterdir())


# ---------------------------------------------------------------- cancel, events


def test_cancel_a_queued_job(paused: TestClient) -> None:
    job_id = submit(paused).json()["id"]
    folder = service(paused).settings.jobs / job_id
    assert folder.is_dir()
    assert paused.delete(f"/api/jobs/{job_id}").json() == {"id": job_id, "status": "canceled"}
    assert paused.get(f"/api/jobs/{job_id}").json()["status"] == "canceled"
    assert not folder.exists() and paused.get(f"/api/jobs/{job_id}/input").status_code == 404


def test_cancel_a_running_job(server: TestClient) -> None:
    job_id = submit(server, "slow", params='{"slow": {"seconds": 0.3}}').json()["id"]
    running = wait(server, job_id, until=("running", "succeeded", "failed"))
    assert running["status"] == "running"
    assert server.delete(f"/api/jobs/{job_id}").status_code == 200
    deadline = time.monotonic() + 30
    while not any(r["job"] == job_id for r in server.get("/api/runs").json()["runs"]):
        assert time.monotonic() < deadline, "the worker never stopped the job"
        time.sleep(0.1)
    record = next(r for r in server.get("/api/runs").json()["runs"] if r["job"] == job_id)
    assert record["status"] == "canceled"
    assert server.get(f"/api/jobs/{job_id}").json()["status"] == "canceled"
    assert not (service(server).settings.jobs / job_id).exists()


def test_events_stream_ends_with_success(server: TestClient) -> None:
    job_id = submit(server, "slow", params='{"slow": {"seconds": 0.02}}').json()["id"]
    events = []
    with server.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line.removeprefix("data: ")))
    assert events[-1]["status"] == "succeeded" and events[-1]["id"] == job_id
    progress = [event["progress"] for event in events]
    assert progress == sorted(progress) and len(events) >= 2


# ---------------------------------------------------------------- sessions, tokens


def test_sessions_see_only_their_own_jobs(server: TestClient) -> None:
    job_id = submit(server, "slow", params='{"slow": {"seconds": 0}}').json()["id"]
    other = TestClient(server.app)
    assert other.get(f"/api/jobs/{job_id}").status_code == 404
    assert other.get(f"/api/jobs/{job_id}/input").status_code == 404
    assert other.delete(f"/api/jobs/{job_id}").status_code == 404
    assert all(job["id"] != job_id for job in other.get("/api/jobs").json()["jobs"])
    cookie = other.cookies.get("restore_session")
    assert cookie and cookie != server.cookies.get("restore_session")
    fresh = TestClient(server.app).get("/api/health").headers["set-cookie"]
    assert "HttpOnly" in fresh and "SameSite=Lax" in fresh
    assert wait(server, job_id)["status"] == "succeeded"


def test_a_malformed_cookie_of_another_app_keeps_the_session(paused: TestClient) -> None:
    """A browser sends the cookies of every port of this host; one that Python's
    SimpleCookie cannot read (a space, a quote) must not lose the session."""
    job_id = submit(paused).json()["id"]
    try:
        session = paused.cookies["restore_session"]
        other = TestClient(paused.app)
        cookie = f'theme=dark mode; prefs={{"a": 1}}; restore_session={session}'
        response = other.get(f"/api/jobs/{job_id}", headers={"cookie": cookie})
        assert response.status_code == 200 and "set-cookie" not in response.headers
    finally:
        paused.delete(f"/api/jobs/{job_id}")


def test_token_is_required_when_set(pipelines: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, pipelines, workers=0, token="s3cret-token")
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/health").status_code == 401
        assert client.get("/stats").status_code == 401
        bearer = {"Authorization": "Bearer s3cret-token"}
        assert client.get("/api/health", headers=bearer).status_code == 200
        assert (
            client.get("/api/health", headers={"Authorization": "Bearer nope"}).status_code == 401
        )
        assert client.get("/", params={"token": "wrong"}).status_code == 401
        visit = client.get("/", params={"token": "s3cret-token"}, follow_redirects=False)
        assert visit.status_code == 303 and visit.headers["location"] == "/"
        cookie = visit.headers["set-cookie"]
        assert "restore_token=s3cret-token" in cookie
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert client.get("/api/health").status_code == 200  # the cookie now
        other = TestClient(client.app)
        cookie = {"cookie": "theme=dark mode; restore_token=s3cret-token"}
        assert other.get("/api/health", headers=cookie).status_code == 200
        assert other.get("/openapi.json").status_code == 404  # nothing unguarded but the page


def test_non_loopback_bind_needs_a_token(pipelines: Path) -> None:
    with pytest.raises(ValueError, match="needs a token"):
        Settings(host="0.0.0.0", pipelines=pipelines).check()
    Settings(host="0.0.0.0", pipelines=pipelines, token="long-enough").check()
    Settings(host="::1", pipelines=pipelines).check()
    result = CliRunner().invoke(cli, ["serve", "--host", "192.168.1.5"])
    assert result.exit_code == 2 and "needs a token" in result.output


# ---------------------------------------------------------------- failures, restarts


def test_worker_crash_fails_that_job_only(server: TestClient) -> None:
    crashed = finished(server, "crash")
    assert crashed["status"] == "failed"
    assert crashed["error"] == "the worker stopped unexpectedly (exit code 3)"
    assert finished(server)["status"] == "succeeded"
    assert server.get("/api/health").json()["workers"] == 1


def test_restart_runs_queued_jobs_and_requeues_running_ones_once(
    web_plugins: None, pipelines: Path, tmp_path: Path
) -> None:
    paused = settings_for(tmp_path, pipelines, workers=0)
    with TestClient(create_app(paused)) as client:
        first, second, third = (submit(client).json()["id"] for _ in range(3))
        assert service(client).store.claim(worker=999_999, now=time.time())["id"] == first
        cookies = {"restore_session": client.cookies["restore_session"]}  # the same browser
    with TestClient(create_app(paused), cookies=cookies) as client:  # first: queued again, once
        assert client.get(f"/api/jobs/{first}").json()["status"] == "queued"
        store = service(client).store
        assert [store.claim(999_999, time.time())["id"] for _ in range(2)] == [first, second]
    with TestClient(create_app(settings_for(tmp_path, pipelines)), cookies=cookies) as client:
        again = wait(client, first)
        assert again["status"] == "failed" and "stopped twice" in again["error"]
        assert wait(client, second)["status"] == "succeeded"
        assert wait(client, third)["status"] == "succeeded"


def test_store_closes_the_connections_of_ended_threads(tmp_path: Path) -> None:
    """The server's threadpool retires idle threads: their connections must not pile up."""
    store = Store(tmp_path / "restore.db")
    store.create()

    def database_files() -> int:
        folder = Path("/proc/self/fd")
        if not folder.is_dir():
            pytest.skip("needs /proc")
        names = (os.path.realpath(folder / fd) for fd in os.listdir(folder))
        return sum(name.startswith(str(tmp_path / "restore.db")) for name in names)

    try:
        for _ in range(30):
            thread = threading.Thread(target=store.counts)
            thread.start()
            thread.join()
        store.counts()
        assert database_files() <= 6  # this thread's and the last one's, at most
    finally:
        store.close()
    assert database_files() == 0


def test_supervisor_survives_a_failing_store(
    pipelines: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store error while a dead worker is buried (database locked, disk full) is
    tried again; the watch goes on and starts the next worker."""

    class Dead:
        pid, exitcode = 4242, 9

        def is_alive(self) -> bool:
            return False

        def close(self) -> None:
            pass

    class Failing:
        calls = 0

        def fail_worker(self, worker: int, reason: str, now: float) -> list[str]:
            self.calls += 1
            if self.calls == 1:
                raise sqlite3.OperationalError("database is locked")
            return []

    store = Failing()
    spawned = threading.Event()
    monkeypatch.setattr(supervisor, "WATCH_SECONDS", 0.01)
    settings = settings_for(tmp_path, pipelines)
    watch = supervisor.Supervisor(settings, store, time.time)  # type: ignore[arg-type]
    watch._workers[0] = Dead()  # type: ignore[assignment]
    monkeypatch.setattr(watch, "_spawn", lambda slot: spawned.set())
    watch._thread.start()
    try:
        assert spawned.wait(10), "the watch stopped after the store failed"
        assert store.calls == 2
    finally:
        watch._halt.set()
        watch._thread.join()


def test_expired_jobs_are_deleted_but_their_runs_kept(
    web_plugins: None, pipelines: Path, tmp_path: Path
) -> None:
    offset = [0.0]
    settings = settings_for(tmp_path, pipelines, workers=0, retention_hours=1, sweep_seconds=0.05)
    with TestClient(create_app(settings, clock=lambda: time.time() + offset[0])) as client:
        done, waiting = submit(client).json()["id"], submit(client).json()["id"]
        store = service(client).store
        assert store.claim(worker=1, now=time.time())["id"] == done
        store.finish(done, "succeeded", time.time(), measured=Measured(stage_seconds={"a": 1}))
        time.sleep(0.2)
        assert client.get(f"/api/jobs/{done}").status_code == 200  # not yet
        offset[0] = 2 * 3600
        deadline = time.monotonic() + 10
        while client.get(f"/api/jobs/{done}").status_code != 404:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert not (settings.jobs / done).exists()
        assert client.get(f"/api/jobs/{waiting}").json()["status"] == "queued"
        assert [run["job"] for run in client.get("/api/runs").json()["runs"]] == [done]


# ---------------------------------------------------------------- records


def test_runs_are_recorded_and_exported(server: TestClient) -> None:
    finished(server)
    runs = server.get("/api/runs").json()["runs"]
    record = runs[-1]
    assert record["status"] == "succeeded" and record["pipeline"] == "restore"
    assert record["queue_seconds"] >= 0 and record["total_seconds"] > 0
    assert record["megapixels"] == pytest.approx(64 * 64 / 1e6)
    assert record["restore_version"] == "0.1.0"
    assert record["versions"]["inpaint"] == {
        "stage": "inpaint.opencv",
        "plugin": "inpaint",
        "version": "0.1.0",
        "weights": {},
    }
    data = service(server).settings.data
    result = CliRunner().invoke(cli, ["runs", "--data", str(data), "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(runs) and rows[-1]["job"] == record["job"]
    assert json.loads(rows[-1]["stage_seconds"]).keys() == {"damage", "inpaint"}
    table = CliRunner().invoke(cli, ["runs", "--data", str(data)])
    assert table.exit_code == 0 and "succeeded" in table.stdout


def test_weights_versions_are_named(paused: TestClient) -> None:
    versions = service(paused).catalog.versions("denoise")["denoise"]
    assert versions["stage"] == "denoise.dncnn" and versions["plugin"] == "denoise"
    assert set(versions["weights"]) == {"dncnn-color", "dncnn-gray"}
    assert all(len(v.split()[1]) == 12 for v in versions["weights"].values())


def test_stats_page(server: TestClient) -> None:
    page = server.get("/stats")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count("<svg") == 4 and "Slowest runs" in page.text
    assert not any(tag in page.text for tag in ("<script", "<link", "<img", "src="))


def test_stats_page_without_runs(paused: TestClient) -> None:
    assert "No runs yet" in paused.get("/stats").text


def test_downscale_keeps_shape_rules() -> None:
    from restore.app.web.worker import fit
    from restore.io.images import image_from_array

    gray = image_from_array(np.full((100, 50), 0.5, np.float32))
    small = fit(gray, 0.001)
    assert small.pixels.shape == (44, 22, 1) and small.pixels.dtype == np.float32
    assert fit(gray, 1.0) is gray
