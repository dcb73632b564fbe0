"""``restore train``: run a plugin's training recipe and export its weights."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path
from typing import Annotated, Any

import typer

from restore.app.cli.main import fail
from restore.app.cli.terminal import console, say
from restore.lab.data import DATA_ENV


def train(
    recipe: Annotated[
        str | None, typer.Argument(help="training recipe, e.g. denoise.dncnn-gray")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="weights file to write (.safetensors)")
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option(help="training image folder (repeatable); default: the recipe's"),
    ] = None,
    data_root: Annotated[
        Path | None,
        typer.Option(envvar=DATA_ENV, help="root of the recipe's default folders"),
    ] = None,
    steps: Annotated[
        int | None, typer.Option(help="optimiser steps; default: the recipe's")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of sampling, degradation and init")] = 0,
    resume: Annotated[bool, typer.Option(help="continue from <out>.ckpt")] = False,
    start_from: Annotated[
        Path | None,
        typer.Option(
            help="weights of the recipe's architecture to fine-tune instead of a random "
            "start; default: the recipe's"
        ),
    ] = None,
    lr: Annotated[
        float | None, typer.Option(help="peak learning rate; default: the recipe's")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch")] = None,
    device: Annotated[
        str,
        typer.Option(
            help="auto (CUDA if there is a GPU, with the recipe's batch x gpu_scale and "
            "steps / gpu_scale), cpu or cuda"
        ),
    ] = "auto",
    list_: Annotated[bool, typer.Option("--list", help="list the training recipes")] = False,
) -> None:
    """Train RECIPE's model on synthesized degradations; write weights + manifest to --out."""
    import torch
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    from restore.api.errors import RestoreError
    from restore.app.registry import Registry
    from restore.lab.data import default_data_root
    from restore.lab.training import find_recipe, training_recipes
    from restore.lab.training import train as run_training

    registry = Registry.from_entry_points()
    if list_:
        for name, known in training_recipes(registry).items():
            say((name, "bold"), f": {known.description}", out=Console())
        return
    if recipe is None or out is None:
        raise fail("expected RECIPE and --out (or --list)")
    if threads:
        torch.set_num_threads(threads)
    try:
        chosen = find_recipe(registry, recipe)
    except RestoreError as error:
        raise fail(str(error)) from None
    if device not in ("auto", "cpu", "cuda") and not device.startswith("cuda:"):
        raise fail(f"--device must be auto, cpu or cuda, not {device!r}")
    if out.suffix != ".safetensors":
        raise fail(f"{out}: the weights file must end in .safetensors")
    if start_from is not None and not start_from.is_file():
        raise fail(f"{start_from}: no such weights file")
    if lr is not None and not lr > 0:
        raise fail(f"--lr must be positive, not {lr}")
    chosen = dataclasses.replace(
        chosen, start_from=start_from or chosen.start_from, lr=lr or chosen.lr
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    command = shlex.join(
        [
            *("restore", "train", recipe, "--out", str(out)),
            *(arg for folder in data or [] for arg in ("--data", str(folder))),
            *(("--data-root", str(data_root)) if data_root is not None else ()),
            *(("--steps", str(steps)) if steps else ()),
            *(("--seed", str(seed)) if seed else ()),
            *(("--start-from", str(start_from)) if start_from is not None else ()),
            *(("--lr", repr(lr)) if lr is not None else ()),
            *(("--device", device) if device != "auto" else ()),
        ]
    )  # the command that reproduces these weights (resuming does not change them)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("loss {task.fields[loss]:.5f}  {task.fields[score]}"),
    )
    name = chosen.score_name.replace("validation_", "val ").replace("psnr", "PSNR")
    unit = " dB" if chosen.target == "clean" else ""
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(recipe, total=steps or chosen.steps, loss=0.0, score="-")

        def report(step: int, total: int, loss: float, score: float | None) -> None:
            fields: dict[str, Any] = {"loss": loss}
            if score is not None:
                fields["score"] = f"{name} {score:.3f}{unit}"
            progress.update(task, completed=step, total=total, **fields)
            if score is not None and not console.is_terminal:
                say(f"step {step}/{total} loss {loss:.5f} {name} {score:.3f}{unit}")

        try:
            manifest = run_training(
                chosen,
                out,
                data_root=data_root or default_data_root(),
                folders=data or [],
                steps=steps,
                seed=seed,
                resume=resume,
                command=command,
                report=report,
                device=device,
            )
        except RestoreError as error:
            raise fail(str(error)) from None
    say(
        f"wrote {out} ({manifest.parameters} parameters, {name} "
        f"{manifest.quality[chosen.score_name]:.3f}{unit}, sha256 {manifest.sha256[:12]}…)",
        out=Console(),
    )
