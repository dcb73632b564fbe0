"""``restore degrade``: write degraded copies of images (and damage masks) to build test sets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from restore.app.cli.main import fail, summary
from restore.app.cli.terminal import console, say
from restore.lab.data import DATA_ENV

if TYPE_CHECKING:
    from restore.lab.degrade import Recipe


def _degrade_file(
    recipe: Recipe, path: Path, target: Path, seed: int, overwrite: bool
) -> list[Path]:
    from restore.api.errors import ImageWriteError
    from restore.io.images import read_image, write_image

    targets = [target]
    if recipe.makes_mask:
        targets.append(target.with_name(f"{target.stem}.mask.png"))
    existing = next((t for t in targets if t.exists()), None)
    if existing is not None and not overwrite:
        raise ImageWriteError(existing, "already exists (use --overwrite)")
    degraded = recipe.apply(read_image(path).pixels, seed)
    images = [degraded.image, degraded.mask][: len(targets)]
    return [write_image(t, image, protect=[path]) for t, image in zip(targets, images, strict=True)]


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
        Path | None, typer.Option(envvar=DATA_ENV, help="data root for kernels and overlays")
    ] = None,
    list_: Annotated[bool, typer.Option("--list", help="list the built-in recipes")] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="replace existing files (never an input)")
    ] = False,
) -> None:
    """Write degraded copies of SOURCE (PNG, plus <stem>.mask.png for damage) into --output;
    an existing file there is never replaced unless --overwrite."""
    from rich.console import Console

    from restore.api.errors import RestoreError
    from restore.app.runner import FileOutcome
    from restore.io.files import discover, name_key
    from restore.lab.degrade import RECIPES, file_seed, load_recipe

    if list_:
        out = Console()
        for name, builtin in RECIPES.items():
            say((name, "bold"), f": {builtin.description}", out=out)
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
    claimed: dict[str, Path] = {}
    for item in files:
        path, relative = item.path, item.relative
        start = time.perf_counter()
        target = output / relative.with_suffix(".png")
        try:
            if item.problem:
                raise RestoreError(f"{path}: {item.problem}")
            if name_key(target) in claimed:
                raise RestoreError(
                    f"{path}: output {target} is already written from {claimed[name_key(target)]}"
                )
            claimed[name_key(target)] = relative
            written = _degrade_file(chosen, path, target, file_seed(seed, relative), overwrite)
            outcome = FileOutcome(relative, "done", written=written)
        except RestoreError as error:
            outcome = FileOutcome(relative, "failed", message=str(error))
            say(("failed: ", "red"), outcome.message)
        outcome.seconds = time.perf_counter() - start
        outcomes.append(outcome)
    console.print(summary(outcomes))
    failed = sum(o.status == "failed" for o in outcomes)
    say(f"{len(outcomes) - failed} done, {failed} failed -> {output}")
    if failed:
        raise typer.Exit(1)
