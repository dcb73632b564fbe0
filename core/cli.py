"""The ``restore`` command line: ``restore PIPELINE INPUT``, ``plugins``, ``check``, ``degrade``."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from restore.batch import BatchRunner, FileOutcome, discover
from restore.degrade import DATA_ENV, DEFAULT_DATA, RECIPES, Recipe, load_recipe
from restore.errors import Cancelled, PipelineError, RestoreError
from restore.io import read_image, write_image
from restore.pipeline import Pipeline
from restore.plugins import Registry
from restore.progress import RichObserver

console = Console(stderr=True)


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


def _load(pipeline: Path, overrides: list[str] | None) -> Pipeline:
    registry = Registry.from_entry_points()
    for info in registry.broken():
        console.print(
            f"[yellow]warning:[/] plugin {info.name!r} not loaded: {info.error}", soft_wrap=True
        )
    return Pipeline.from_yaml(pipeline, registry=registry, overrides=overrides or [])


def _fail(message: str, code: int = 2) -> typer.Exit:
    console.print(f"[red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _summary(outcomes: list[FileOutcome]) -> Table:
    table = Table(title="restore summary")
    for column in ("file", "status", "seconds", "note"):
        table.add_column(column)
    styles = {"done": "green", "skipped": "cyan", "failed": "red"}
    for outcome in outcomes:
        note = outcome.message or ", ".join(p.name for p in outcome.written)
        table.add_row(
            str(outcome.source),
            f"[{styles[outcome.status]}]{outcome.status}[/]",
            f"{outcome.seconds:.2f}",
            note,
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
    format_: Annotated[
        str | None, typer.Option("--format", help="output extension, e.g. png (default: input's)")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
) -> None:
    """Run PIPELINE on SOURCE and write the results into --output."""
    if tile < 0 or overlap < 0 or batch < 1:
        raise _fail("--tile and --overlap must be >= 0, --batch >= 1")
    try:
        restorer = _load(pipeline, set_)
        options = restorer.tile_options(tile=tile, overlap=overlap, batch_size=batch, device=device)
    except (RestoreError, ValueError) as error:
        raise _fail(str(error)) from None
    runner = BatchRunner(
        restorer,
        output,
        options,
        skip_existing=skip_existing,
        suffix=format_,
    )
    try:
        with RichObserver(console, enabled=not quiet) as observer:
            runner.observer = observer
            outcomes = runner.run(source)
    except Cancelled:
        raise _fail("cancelled", 130) from None
    except RestoreError as error:
        raise _fail(str(error)) from None
    if not outcomes:
        raise _fail(f"{source}: no image files found")
    console.print(_summary(outcomes))
    if any(o.stage_seconds for o in outcomes):
        console.print(_stage_times(outcomes))
    failed = sum(o.status == "failed" for o in outcomes)
    done = sum(o.status == "done" for o in outcomes)
    skipped = len(outcomes) - done - failed
    console.print(f"{done} done, {skipped} skipped, {failed} failed -> {output}")
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
    try:
        restorer = _load(pipeline, set_)
    except PipelineError as error:
        for problem in error.problems:
            console.print(f"[red]error:[/] {pipeline}: {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    order = " -> ".join(node.id for node in restorer.plan.nodes)
    console.print(f"{pipeline}: ok ({order})", highlight=False)


@app.command()
def plugins(
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """List installed plugins, their stages, versions and parameters."""
    described = Registry.from_entry_points().describe()
    if as_json:
        typer.echo(json.dumps(described, indent=2))
        return
    out = Console()
    for plugin in described:
        state = (
            f"[red]error: {plugin['error']}[/]"
            if plugin["error"]
            else f"[yellow]skipped: {plugin['skipped']}[/]"
            if plugin["skipped"]
            else f"version {plugin['version']}"
        )
        out.print(f"[bold]{plugin['name']}[/] ({plugin['module']}) {state}", highlight=False)
        for stage in plugin["stages"]:
            tiling = stage["tiling"]
            out.print(
                f"  [cyan]{stage['name']}[/]: {stage['summary']} [dim](tiling "
                f"{tiling['policy']}, halo {tiling['halo']}, scale {tiling['scale']})[/]"
            )
            for name, schema in stage["params"].items():
                default = schema.get("default", "required")
                out.print(
                    f"      {name} = {default!r}  {schema.get('description', '')}",
                    highlight=False,
                )


def _degrade_file(recipe: Recipe, path: Path, target: Path, seed: int) -> list[Path]:
    pixels = read_image(path).pixels
    degraded = recipe.apply(pixels, seed)
    written = [write_image(target, degraded.image, protect=[path])]
    if recipe.makes_mask:
        mask_path = target.with_name(f"{target.stem}.mask.png")
        written.append(write_image(mask_path, degraded.mask, protect=[path]))
    return written


@app.command()
def degrade(
    recipe: Annotated[
        str | None, typer.Argument(help="built-in recipe name (see --list) or recipe.yaml")
    ] = None,
    source: Annotated[
        Path | None, typer.Argument(help="an image file or a folder (recursive)")
    ] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="output folder")] = Path(
        "degraded"
    ),
    seed: Annotated[int, typer.Option(help="base seed; each file's seed adds its path")] = 0,
    data: Annotated[
        Path, typer.Option(envvar=DATA_ENV, help="data root for kernels and overlays")
    ] = DEFAULT_DATA,
    list_: Annotated[bool, typer.Option("--list", help="list the built-in recipes")] = False,
) -> None:
    """Write degraded copies of SOURCE (PNG, plus <stem>.mask.png for damage) into --output."""
    if list_:
        out = Console()
        for name, builtin in RECIPES.items():
            out.print(f"[bold]{name}[/]: {builtin.description}", highlight=False, soft_wrap=True)
        return
    if recipe is None or source is None:
        raise _fail("expected RECIPE and SOURCE (or --list)")
    try:
        chosen = load_recipe(recipe, data)
        files = discover(source, exclude=output)
    except RestoreError as error:
        raise _fail(str(error)) from None
    if not files:
        raise _fail(f"{source}: no image files found")
    outcomes = []
    for path, relative in files:
        start = time.perf_counter()
        digest = hashlib.sha256(f"{seed}:{relative.as_posix()}".encode()).digest()
        try:
            target = output / relative.with_suffix(".png")
            written = _degrade_file(chosen, path, target, int.from_bytes(digest[:8], "big"))
            outcome = FileOutcome(relative, "done", written=written)
        except RestoreError as error:
            outcome = FileOutcome(relative, "failed", message=str(error))
        outcome.seconds = time.perf_counter() - start
        outcomes.append(outcome)
    console.print(_summary(outcomes))
    failed = sum(o.status == "failed" for o in outcomes)
    console.print(f"{len(outcomes) - failed} done, {failed} failed -> {output}")
    if failed:
        raise typer.Exit(1)


def main() -> None:
    """Console-script entry point."""
    app()
