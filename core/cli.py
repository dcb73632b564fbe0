"""The ``restore`` command line: ``restore PIPELINE INPUT``, ``plugins``, ``check``, ``degrade``,
``eval``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from restore.batch import BatchRunner, FileOutcome, discover
from restore.degrade import DATA_ENV, DEFAULT_DATA, RECIPES, Recipe, file_seed, load_recipe
from restore.errors import Cancelled, PipelineError, RestoreError
from restore.evaluate import (
    INPUT,
    REFERENCE,
    Row,
    contact_sheet,
    crop_panels,
    evaluate,
    pairs_from_folders,
    pairs_from_recipe,
)
from restore.io import read_image, write_image
from restore.metrics import CONVENTIONS
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


def fail(message: str, code: int = 2) -> typer.Exit:
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
        raise fail("--tile and --overlap must be >= 0, --batch >= 1")
    try:
        restorer = _load(pipeline, set_)
        options = restorer.tile_options(tile=tile, overlap=overlap, batch_size=batch, device=device)
    except (RestoreError, ValueError) as error:
        raise fail(str(error)) from None
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
        raise fail("cancelled", 130) from None
    except RestoreError as error:
        raise fail(str(error)) from None
    if not outcomes:
        raise fail(f"{source}: no image files found")
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
        raise fail("expected RECIPE and SOURCE (or --list)")
    try:
        chosen = load_recipe(recipe, data)
        files = discover(source, exclude=output)
    except RestoreError as error:
        raise fail(str(error)) from None
    if not files:
        raise fail(f"{source}: no image files found")
    outcomes = []
    for path, relative in files:
        start = time.perf_counter()
        try:
            target = output / relative.with_suffix(".png")
            written = _degrade_file(chosen, path, target, file_seed(seed, relative))
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


@app.command("eval")
def eval_(
    pipelines: Annotated[
        list[Path], typer.Argument(help="pipeline.yaml files to compare (named by file stem)")
    ],
    clean: Annotated[
        Path | None, typer.Option(help="folder of clean reference images (with --recipe)")
    ] = None,
    recipe: Annotated[
        str | None, typer.Option(help="degradation recipe applied to --clean (name or .yaml)")
    ] = None,
    seed: Annotated[int, typer.Option(help="base seed, as for `restore degrade`")] = 0,
    data: Annotated[
        Path, typer.Option(envvar=DATA_ENV, help="data root for kernels and overlays")
    ] = DEFAULT_DATA,
    pairs: Annotated[
        tuple[Path, Path] | None,
        typer.Option(help="DEGRADED CLEAN folders, files matched by relative path and stem"),
    ] = None,
    convention: Annotated[str, typer.Option(help="rgb, or y (BT.601 luma, 16-235)")] = "rgb",
    border: Annotated[int, typer.Option(help="pixels cropped on each side before measuring")] = 0,
    report: Annotated[
        Path | None, typer.Option(help="write <REPORT>.csv and <REPORT>.json")
    ] = None,
    sheet: Annotated[Path | None, typer.Option(help="write a PNG of side-by-side crops")] = None,
    crop: Annotated[int, typer.Option(help="crop side in the --sheet, in pixels")] = 128,
    tile: Annotated[int, typer.Option(help="tile side in pixels; 0 = whole image")] = 512,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
) -> None:
    """Measure PSNR/SSIM and speed of PIPELINEs on degraded/clean pairs, input included."""
    if (pairs is None) == (clean is None and recipe is None):
        raise fail("expected --clean DIR --recipe RECIPE, or --pairs DEGRADED CLEAN")
    if pairs is None and (clean is None or recipe is None):
        raise fail("--clean and --recipe go together")
    if convention not in CONVENTIONS:
        raise fail(f"--convention must be one of {', '.join(CONVENTIONS)}")
    if border < 0 or tile < 0 or crop < 1:
        raise fail("--border and --tile must be >= 0, --crop >= 1")
    names = [path.stem for path in pipelines]
    clash = {name for name in names if names.count(name) > 1 or name in (INPUT, REFERENCE)}
    if clash:
        raise fail(f"pipeline names must be unique and not {INPUT!r}: {', '.join(sorted(clash))}")
    try:
        methods = {}
        for name, path in zip(names, pipelines, strict=True):
            restorer = _load(path, None)
            options = restorer.tile_options(tile=tile, device=device)
            methods[name] = lambda image, r=restorer, o=options: r.run(image, options=o).image
        if pairs is not None:
            source = pairs_from_folders(*pairs)
        else:
            source = pairs_from_recipe(clean, recipe, seed, data)  # type: ignore[arg-type]
    except (RestoreError, ValueError) as error:
        raise fail(str(error)) from None

    crops: list[tuple[str, list[tuple[str, Any]]]] = []

    def keep(name: str, images: dict[str, Any], rows: list[Row]) -> None:
        console.print(
            f"{name}: " + ", ".join(f"{row.method} {row.psnr:.2f} dB" for row in rows),
            highlight=False,
        )
        if sheet is not None:
            crops.append((name, crop_panels(list(images.items()), crop)))

    try:
        result = evaluate(methods, source, convention=convention, border=border, on_image=keep)
        console.print(result.convention, highlight=False)
        console.print(result.table())
        if report is not None:
            written = [result.to_csv(f"{report}.csv"), result.to_json(f"{report}.json")]
            console.print(f"report -> {', '.join(map(str, written))}", highlight=False)
        if sheet is not None:
            scores = {(row.image, row.method): row.psnr for row in result.rows}
            contact_sheet(sheet, crops, crop, scores=scores)
            console.print(f"contact sheet -> {sheet}", highlight=False)
    except Cancelled:
        raise fail("cancelled", 130) from None
    except (RestoreError, OSError) as error:
        raise fail(str(error), 1) from None


def main() -> None:
    """Console-script entry point."""
    app()


# Commands defined in their own modules register themselves on `app`.
from restore import cli_train  # noqa: E402, F401
