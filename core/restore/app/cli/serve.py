"""``restore serve`` (the web service) and ``restore runs`` (its run records).

The web stack (FastAPI, uvicorn, torch) is imported inside ``serve``, so the
rest of the CLI starts without it.
"""

from __future__ import annotations

import csv
import datetime
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from restore.app.cli.terminal import error, literal, say

DATA = Path("restore-serve-data")


def add_serve_commands(app: typer.Typer) -> None:
    """Add ``serve`` and ``runs`` to the CLI ``app``."""
    app.command()(serve)
    app.command()(runs)


def serve(
    host: Annotated[str, typer.Option(help="address to listen on (loopback unless --token)")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes running jobs")] = 1,
    max_upload_mb: Annotated[float, typer.Option(help="largest upload, in MB")] = 50,
    max_pixels: Annotated[
        float, typer.Option(help="largest picture, in pixels, read from its header")
    ] = 50e6,
    queue: Annotated[int, typer.Option(help="jobs that may wait; more are refused (429)")] = 100,
    data: Annotated[Path, typer.Option(help="folder of the database and the jobs' files")] = DATA,
    pipelines: Annotated[Path, typer.Option(help="folder of the pipelines offered")] = Path(
        "examples/pipelines"
    ),
    retention_hours: Annotated[
        float, typer.Option(help="hours a finished job's files are kept")
    ] = 24,
    token: Annotated[
        str | None,
        typer.Option(envvar="RESTORE_TOKEN", help="required by every API call when set"),
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
) -> None:
    """Serve the pipelines in --pipelines over HTTP, with a web page at /."""
    from restore.app.web.settings import MEGABYTE, Settings

    settings = Settings(
        data=data,
        pipelines=pipelines,
        host=host,
        port=port,
        workers=workers,
        max_upload_bytes=int(max_upload_mb * MEGABYTE),
        max_pixels=int(max_pixels),
        queue=queue,
        retention_hours=retention_hours,
        token=token or None,
        device=device,
    )
    try:
        settings.check()
        import uvicorn

        from restore.api.errors import RestoreError
        from restore.app.web.server import create_app

        try:
            web = create_app(settings)
        except RestoreError as problem:
            raise ValueError(str(problem)) from None
    except ValueError as problem:
        error(str(problem))
        raise typer.Exit(2) from None
    where = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    say("restore serve: ", (where, "bold"), " (open /?token=TOKEN once)" if token else "")
    uvicorn.run(
        web, host=host, port=port, log_level="info", access_log=False, timeout_graceful_shutdown=5
    )


def runs(
    data: Annotated[Path, typer.Option(help="the folder given to restore serve --data")] = DATA,
    as_csv: Annotated[bool, typer.Option("--csv", help="write CSV to stdout")] = False,
) -> None:
    """Show (or export as CSV) the record of every run of restore serve."""
    from restore.app.web.store import RUN_FIELDS, Store

    database = data / "restore.db"
    if not database.is_file():
        error(f"{database}: no such database (is --data the folder restore serve used?)")
        raise typer.Exit(2)
    store = Store(database)
    try:
        records = store.runs()
    finally:
        store.close()
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=RUN_FIELDS, lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow({key: _cell(key, value) for key, value in record.items()})
        return
    table = Table(title=f"{len(records)} runs")
    for column in ("time (UTC)", "pipeline", "MP", "queue s", "seconds", "status"):
        table.add_column(column, overflow="fold")
    for record in records:
        status = record["status"] + (f": {record['error']}" if record["error"] else "")
        table.add_row(
            _cell("time", record["time"]),
            literal(record["pipeline"]),
            f"{record['megapixels']:.2f}" if record["megapixels"] is not None else "",
            _seconds(record["queue_seconds"]),
            _seconds(record["total_seconds"]),
            literal(status),
        )
    Console().print(table)


def _cell(key: str, value: Any) -> str:
    """A record's value as CSV text: times in ISO 8601 UTC, structures as JSON."""
    if key == "time":
        moment = datetime.datetime.fromtimestamp(value, datetime.UTC)
        return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    return "" if value is None else str(value)


def _seconds(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else ""
