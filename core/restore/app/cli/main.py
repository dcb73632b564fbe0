"""The ``restore`` command line: ``restore PIPELINE INPUT``, ``plugins``, ``check``,
``serve`` and ``runs``.

More commands come in through the ``register_commands`` hook from modules of the
entry-point group ``restore.commands`` (restore's own lab adds ``degrade``,
``eval`` and ``train`` that way). Everything heavy (torch, the engine, plugins)
is imported inside the commands, so ``restore --help`` starts at once.
"""

from __future__ import annotations

import json
from enum import StrEnum
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pluggy
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from restore.api import hookspecs
from restore.app.cli.serve import add_serve_commands
from restore.app.cli.terminal import Part, console, error, literal, say, warning
from restore.io.limits import DEFAULT_MAX_PIXELS

if TYPE_CHECKING:
    from restore.app.pipeline import Pipeline
    from restore.app.runner import BatchRunner, FileOutcome

COMMANDS_GROUP = "restore.commands"


class DefaultRunGroup(TyperGroup):
    """Treats ``restore PIPELINE INPUT`` as ``restore run PIPELINE INPUT``."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[Any, Any, list[str]]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=DefaultRunGroup,
    help="Restore and colorize damaged photos with a pipeline of plugin stages.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def load_pipeline(pipeline: Path, overrides: list[str] | None) -> Pipeline:
    """Load a pipeline against the installed plugins, warning about broken ones."""
    from restore.app.pipeline import Pipeline
    from restore.app.registry import Registry

    registry = Registry.from_entry_points()
    for info in registry.broken():
        warning(f"plugin {info.name!r} not loaded: {info.error}")
    return Pipeline.from_yaml(pipeline, registry=registry, overrides=overrides or [])


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` and return the exit to raise."""
    error(message)
    return typer.Exit(code)


def summary(outcomes: list[FileOutcome]) -> Table:
    """The per-file table printed at the end of a batch: status, time, the files
    written (or why not), and notes (conditional nodes, metadata not kept)."""
    table = Table(title="restore summary")
    for column in ("file", "status", "seconds", "note"):
        table.add_column(column, overflow="fold")
    styles = {"done": "green", "skipped": "cyan", "failed": "red"}
    for outcome in outcomes:
        note = outcome.message or ", ".join(p.name for p in outcome.written)
        table.add_row(
            literal(str(outcome.source)),
            Text(outcome.status, style=styles[outcome.status]),
            f"{outcome.seconds:.2f}",
            Text("\n").join(literal(line) for line in [note, *outcome.notes]),
        )
    return table


def _stage_times(outcomes: list[FileOutcome]) -> Table:
    totals: dict[str, float] = {}
    for outcome in outcomes:
        for node, seconds in outcome.stage_seconds.items():
            totals[node] = totals.get(node, 0.0) + seconds
    table = Table(title="time per stage")
    table.add_column("node")
    table.add_column("seconds", justify="right")
    for node, seconds in totals.items():
        table.add_row(node, f"{seconds:.2f}")
    return table


class Engine(StrEnum):
    """Where a batch runs."""

    local = "local"
    ray = "ray"


def run_on_cluster(
    pipeline: Pipeline,
    source: Path,
    runner: BatchRunner,
    tiling: dict[str, Any],
    cluster: dict[str, Any],
    quiet: bool,
) -> list[FileOutcome]:
    """The batch on Ray; the outcomes are read back from the run's report."""
    try:
        from restore.app.cli.progress import RichClusterObserver
        from restore.app.distributed.engine import ClusterOptions, run_on_ray
        from restore.app.distributed.report import outcome_from_record, read_report
    except ImportError as missing:
        raise fail(f"--engine ray needs Ray: pip install 'restore[ray]' ({missing})") from None
    with RichClusterObserver(console, enabled=not quiet) as observer:
        done = run_on_ray(pipeline, source, runner, tiling, ClusterOptions(**cluster), observer)
    if done.outcomes:
        say(f"report: {done.report} (run {done.run})")
    order = {str(outcome.source): index for index, outcome in enumerate(done.outcomes)}
    records = read_report(done.report, done.run) if done.outcomes else []
    records.sort(key=lambda record: order.get(record["input"], len(order)))
    return [outcome_from_record(record) for record in records]


@app.command()
def run(
    pipeline: Annotated[Path, typer.Argument(help="pipeline.yaml to run")],
    source: Annotated[Path, typer.Argument(help="an image file or a folder (recursive)")],
    output: Annotated[Path, typer.Option("--output", "-o", help="output folder")] = Path(
        "restored"
    ),
    tile: Annotated[int, typer.Option(help="tile side in pixels; 0 = whole image")] = 512,
    overlap: Annotated[int, typer.Option(help="pixels shared by neighbouring tiles")] = 32,
    batch: Annotated[int, typer.Option(help="tiles per model call")] = 4,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="override: node.param=value (repeatable)")
    ] = None,
    skip_existing: Annotated[
        bool, typer.Option("--skip-existing", help="skip files whose outputs exist")
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option("--overwrite", help="replace existing outputs (never an input file)"),
    ] = False,
    format_: Annotated[
        str | None, typer.Option("--format", help="output extension, e.g. png (default: input's)")
    ] = None,
    max_pixels: Annotated[
        int,
        typer.Option(
            "--max-pixels", help="refuse larger images, checked before decoding; 0 = no limit"
        ),
    ] = DEFAULT_MAX_PIXELS,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
    engine: Annotated[
        Engine, typer.Option(help="local, or ray: the batch on a Ray cluster (restore[ray])")
    ] = Engine.local,
    address: Annotated[
        str | None, typer.Option(help="ray: address of a running cluster (default: start one)")
    ] = None,
    workers: Annotated[int, typer.Option(help="ray: restoration workers (actors)")] = 1,
    gpus_per_worker: Annotated[float, typer.Option(help="ray: GPUs per worker")] = 0.0,
) -> None:
    """Run PIPELINE on SOURCE and write the results into --output.

    Outputs go only into --output, under the input's relative path. A file that
    exists is never replaced (unless --overwrite; an input never), and an
    image's outputs appear all together or not at all. With --engine ray the
    same rules hold on every worker, and OUTPUT/restore-report.jsonl records
    each input's status, seconds, worker and error.
    """
    from restore.api.errors import Cancelled, RestoreError
    from restore.app.cli.progress import RichObserver
    from restore.app.runner import BatchRunner

    if tile < 0 or overlap < 0 or batch < 1:
        raise fail("--tile and --overlap must be >= 0, --batch >= 1")
    if max_pixels < 0:
        raise fail(f"--max-pixels {max_pixels}: must be >= 0 (0 = no limit)")
    if workers < 1 or gpus_per_worker < 0:
        raise fail("--workers must be >= 1, --gpus-per-worker >= 0")
    tiling: dict[str, Any] = dict(tile=tile, overlap=overlap, batch_size=batch, device=device)
    try:
        restorer = load_pipeline(pipeline, set_)
        options = restorer.tile_options(**tiling)
        runner = BatchRunner(
            restorer,
            output,
            options,
            skip_existing=skip_existing,
            overwrite=overwrite,
            suffix=format_,
            max_pixels=max_pixels or None,
        )
    except (RestoreError, ValueError) as problem:
        raise fail(str(problem)) from None
    try:
        if engine is Engine.ray:
            cluster = {"address": address, "workers": workers, "gpus_per_worker": gpus_per_worker}
            outcomes = run_on_cluster(restorer, source, runner, tiling, cluster, quiet)
        else:
            with RichObserver(console, enabled=not quiet) as observer:
                runner.observer = observer
                outcomes = runner.run(source)
    except Cancelled:
        raise fail("cancelled", 130) from None
    except RestoreError as problem:
        raise fail(str(problem)) from None
    if not outcomes:
        raise fail(f"{source}: no image files found")
    console.print(summary(outcomes))
    if any(o.stage_seconds for o in outcomes):
        console.print(_stage_times(outcomes))
    failed = sum(o.status == "failed" for o in outcomes)
    done = sum(o.status == "done" for o in outcomes)
    skipped = len(outcomes) - done - failed
    say(f"{done} done, {skipped} skipped, {failed} failed -> {output}")
    if failed:
        raise typer.Exit(1)


@app.command()
def check(
    pipeline: Annotated[Path, typer.Argument(help="pipeline.yaml to validate")],
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="override: node.param=value")
    ] = None,
) -> None:
    """Validate PIPELINE against the installed stages without reading any image."""
    from restore.api.errors import PipelineError

    try:
        restorer = load_pipeline(pipeline, set_)
    except PipelineError as problem:
        for line in problem.problems:
            error(f"{pipeline}: {line}")
        raise typer.Exit(2) from None
    order = " -> ".join(node.id for node in restorer.plan.nodes)
    say(f"{pipeline}: ok ({order})")


@app.command()
def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """List installed plugins, their stages, versions and parameters."""
    from restore.app.registry import Registry

    described = Registry.from_entry_points().describe()
    if as_json:
        typer.echo(json.dumps(described, indent=2))
        return
    out = Console()
    for plugin in described:
        state: Part = (
            (f"error: {plugin['error']}", "red")
            if plugin["error"]
            else (f"skipped: {plugin['skipped']}", "yellow")
            if plugin["skipped"]
            else f"version {plugin['version']}"
        )
        say((plugin["name"], "bold"), f" ({plugin['module']}) ", state, out=out)
        for stage in plugin["stages"]:
            tiling = stage["tiling"]
            say(
                "  ",
                (stage["name"], "cyan"),
                f": {stage['summary']} ",
                (
                    f"(tiling {tiling['policy']}, halo {tiling['halo']}, "
                    f"scale {tiling['scale']}, multiple {tiling['multiple']}, "
                    f"precisions {', '.join(tiling['precisions'])})",
                    "dim",
                ),
                out=out,
            )
            for name, schema in stage["params"].items():
                default = schema.get("default", "required")
                say(f"      {name} = {default!r}  {schema.get('description', '')}", out=out)


def add_commands(target: typer.Typer) -> None:
    """Let the modules of the ``restore.commands`` entry-point group add their commands."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    for entry_point in sorted(metadata.entry_points(group=COMMANDS_GROUP), key=str):
        try:
            manager.register(entry_point.load(), name=entry_point.name)
        except Exception as problem:  # a broken extension must not take the CLI down
            warning(f"commands {entry_point.name!r} not loaded: {problem}")
    manager.hook.register_commands(app=target)


add_serve_commands(app)
add_commands(app)


def main() -> None:
    """Console-script entry point."""
    app()
