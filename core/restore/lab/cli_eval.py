"""``restore eval``: compare pipelines on degraded/clean pairs (PSNR, SSIM, speed, sheet)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from restore.app.cli.main import fail, load_pipeline
from restore.app.cli.terminal import console, say
from restore.lab.data import DATA_ENV


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
        Path | None, typer.Option(envvar=DATA_ENV, help="data root for kernels and overlays")
    ] = None,
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
    from restore.api.errors import Cancelled, RestoreError
    from restore.lab.evaluate import (
        INPUT,
        REFERENCE,
        Row,
        contact_sheet,
        crop_panels,
        evaluate,
        pairs_from_folders,
        pairs_from_recipe,
    )
    from restore.lab.metrics import CONVENTIONS

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
            restorer = load_pipeline(path, None)
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
        say(f"{name}: " + ", ".join(f"{row.method} {row.psnr:.2f} dB" for row in rows))
        if sheet is not None:
            crops.append((name, crop_panels(list(images.items()), crop)))

    try:
        result = evaluate(methods, source, convention=convention, border=border, on_image=keep)
        say(result.convention)
        console.print(result.table())
        if report is not None:
            written = [result.to_csv(f"{report}.csv"), result.to_json(f"{report}.json")]
            say(f"report -> {', '.join(map(str, written))}")
        if sheet is not None:
            scores = {(row.image, row.method): row.psnr for row in result.rows}
            contact_sheet(sheet, crops, crop, scores=scores)
            say(f"contact sheet -> {sheet}")
    except Cancelled:
        raise fail("cancelled", 130) from None
    except (RestoreError, OSError) as error:
        raise fail(str(error), 1) from None
