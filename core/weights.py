"""Verified model weights: safetensors files with a JSON manifest, shipped inside plugin packages.

``<name>.safetensors`` sits beside ``<name>.json`` (a ``Manifest``). Loading checks the SHA-256
of the weight bytes against the manifest before parsing them; nothing is fetched at run time.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from safetensors.torch import load as parse_safetensors
from safetensors.torch import save as dump_safetensors

from restore import __version__
from restore.errors import StageUnavailable
from restore.io import write_atomically
from restore.models import models

WeightsPath = Path | Traversable


class WeightsError(StageUnavailable):
    """Weights or their manifest are missing, corrupt, or not the ones expected."""

    def __init__(self, path: WeightsPath, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class Training(BaseModel):
    """How the weights were made."""

    model_config = ConfigDict(extra="forbid")
    data: list[str]
    recipe: str
    command: str
    steps: int
    seconds: float
    date: str


class Manifest(BaseModel):
    """What a weights file is, where it came from and how well it does; stored as JSON."""

    model_config = ConfigDict(extra="forbid")
    name: str
    stage: str
    architecture: str
    config: dict[str, Any]
    version: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    parameters: int
    training: Training
    quality: dict[str, float] = {}
    restore_version: str


def manifest_path(path: WeightsPath) -> WeightsPath:
    """The manifest beside ``path``: same name, suffix ``.json``."""
    if isinstance(path, Path):
        return path.with_suffix(".json")
    parent = getattr(path, "parent", None)
    if parent is None:
        raise WeightsError(path, "cannot locate the manifest beside this resource")
    return parent.joinpath(path.name.rsplit(".", 1)[0] + ".json")


def _write_bytes(path: Path, data: bytes) -> None:
    write_atomically(path, lambda fh: fh.write(data))


def save_weights(
    state: Mapping[str, torch.Tensor] | torch.nn.Module,
    path: Path,
    *,
    name: str,
    stage: str,
    architecture: str,
    config: Mapping[str, Any],
    version: str,
    training: Training | Mapping[str, Any],
    quality: Mapping[str, float] | None = None,
    dtype: torch.dtype = torch.float32,
) -> Manifest:
    """Write ``path`` (safetensors) and its manifest atomically; return the manifest.

    Floating-point tensors are stored as ``dtype``, others keep theirs. ``parameters`` counts
    a module's parameters, or every floating-point element of a plain state dict.
    """
    path = Path(path)
    if isinstance(state, torch.nn.Module):
        parameters = sum(p.numel() for p in state.parameters())
        state = state.state_dict()
    else:
        parameters = sum(t.numel() for t in state.values() if t.is_floating_point())
    tensors = {
        key: t.detach().to("cpu", dtype if t.is_floating_point() else t.dtype).contiguous().clone()
        for key, t in state.items()
    }
    data = dump_safetensors(tensors)
    manifest = Manifest(
        name=name,
        stage=stage,
        architecture=architecture,
        config=dict(config),
        version=version,
        sha256=hashlib.sha256(data).hexdigest(),
        parameters=parameters,
        training=Training.model_validate(training),
        quality=dict(quality or {}),
        restore_version=__version__,
    )
    _write_bytes(path, data)
    text = json.dumps(manifest.model_dump(mode="json"), sort_keys=True, indent=2) + "\n"
    _write_bytes(path.with_suffix(".json"), text.encode())
    return manifest


def _read(path: WeightsPath, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as e:
        raise WeightsError(path, f"cannot read {what} (no such file)") from e
    except OSError as e:
        raise WeightsError(path, f"cannot read {what} ({e.strerror or type(e).__name__})") from e


def read_manifest(
    path: WeightsPath, *, expect_stage: str | None = None, expect_architecture: str | None = None
) -> Manifest:
    """Read and validate the manifest beside the weights at ``path``; check stage/architecture."""
    where = manifest_path(path)
    try:
        manifest = Manifest.model_validate_json(_read(where, "the weights manifest"))
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(part) for part in first["loc"]) or "manifest"
        raise WeightsError(where, f"invalid manifest: {loc}: {first['msg']}") from e
    for field, expected in (("stage", expect_stage), ("architecture", expect_architecture)):
        found = getattr(manifest, field)
        if expected is not None and found != expected:
            raise WeightsError(path, f"weights are for {field} {found!r}, not {expected!r}")
    return manifest


def _read_state(path: WeightsPath, manifest: Manifest) -> dict[str, torch.Tensor]:
    data = _read(path, "weights")
    digest = hashlib.sha256(data).hexdigest()
    if digest != manifest.sha256:
        raise WeightsError(
            path,
            f"SHA-256 mismatch (expected {manifest.sha256[:12]}…, got {digest[:12]}…): "
            "the file is corrupt or not the one its manifest describes",
        )
    try:
        return parse_safetensors(data)
    except Exception as e:  # safetensors raises its own error types
        raise WeightsError(path, f"not a valid safetensors file ({e})") from e


def load_weights(
    path: WeightsPath, *, expect_stage: str | None = None, expect_architecture: str | None = None
) -> tuple[dict[str, torch.Tensor], Manifest]:
    """Return the verified state dict at ``path`` (a Path or package resource) and its manifest."""
    manifest = read_manifest(
        path, expect_stage=expect_stage, expect_architecture=expect_architecture
    )
    return _read_state(path, manifest), manifest


def load_model(
    build: Callable[[dict[str, Any]], torch.nn.Module],
    path: WeightsPath,
    *,
    device: torch.device | str,
    expect_stage: str | None = None,
    expect_architecture: str | None = None,
) -> torch.nn.Module:
    """Build ``build(manifest.config)``, load the verified weights, move to ``device``, eval.

    Cached process-wide by (path, sha256, device): each model loads once, even across threads.
    """
    manifest = read_manifest(
        path, expect_stage=expect_stage, expect_architecture=expect_architecture
    )

    def make() -> torch.nn.Module:
        state = _read_state(path, manifest)
        module = build(dict(manifest.config))
        wanted = module.state_dict().keys()
        missing = [k for k in wanted if k not in state]
        unexpected = [k for k in state if k not in wanted]
        if missing or unexpected:
            found = {"missing": missing, "unexpected": unexpected}
            parts = [f"{label} {', '.join(keys[:3])}" for label, keys in found.items() if keys]
            raise WeightsError(
                path, f"weights do not fit {manifest.architecture}: " + "; ".join(parts)
            )
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as e:  # shape mismatches
            raise WeightsError(path, " ".join(str(e).split())) from e
        return module.to(device).eval()

    return models.get((str(path), manifest.sha256, str(device)), make)


def model_card(
    manifest: Manifest, *, description: str, extra_sections: Mapping[str, str] | None = None
) -> str:
    """Render a short, factual MODEL_CARD.md for ``manifest``."""
    m, t = manifest, manifest.training
    config = json.dumps(m.config, sort_keys=True)
    data = ", ".join(f"`{d}`" for d in t.data) or "none"
    quality = "\n".join(f"| {k} | {v:g} |" for k, v in sorted(m.quality.items()))
    quality = f"| Metric | Value |\n|---|---|\n{quality}" if quality else "Not measured."
    extra = "".join(
        f"\n## {title}\n\n{body.strip()}\n" for title, body in (extra_sections or {}).items()
    )
    return f"""# {m.name}

{description.strip()}

- Stage: `{m.stage}`
- Architecture: {m.architecture} (`{config}`), {m.parameters:,} parameters
- Version: {m.version} (restore {m.restore_version})
- SHA-256: `{m.sha256}`

## Training

- Data: {data}
- Degradation recipe: `{t.recipe}`
- {t.steps:,} steps in {t.seconds:,.0f} s, {t.date}

Command:

```bash
{t.command}
```

## Measured quality

{quality}
{extra}"""


def write_model_cards(
    folder: Path, describe: Callable[[Manifest], str], sections: Mapping[str, str]
) -> list[Path]:
    """Write ``<stem>.md`` beside every weights manifest in ``folder`` (benchmarks call this
    with their measured table, so the cards always hold numbers a command produced)."""
    written = []
    for manifest_file in sorted(folder.glob("*.json")):
        manifest = read_manifest(manifest_file.with_suffix(".safetensors"))
        card = model_card(manifest, description=describe(manifest), extra_sections=sections)
        target = manifest_file.with_suffix(".md")
        _write_bytes(target, card.encode())
        written.append(target)
    return written
