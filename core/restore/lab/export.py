"""Exporting trained weights: safetensors + manifest, and model cards."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import torch
from safetensors.torch import save as dump_safetensors

from restore import __version__
from restore.api.weights import Manifest, Training, read_manifest
from restore.io.atomic import write_atomically


def _write_bytes(path: Path, data: bytes) -> None:
    def write(fh: BinaryIO) -> None:
        fh.write(data)

    write_atomically(path, write)


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


def _lineage(training: Training) -> str:
    """How the weights a training fine-tuned were made, back to a random start."""
    lines = []
    while (origin := training.started_from) is not None:
        training = origin.training
        lines.append(
            f"\nFine-tuned from `{origin.name}` (SHA-256 `{origin.sha256[:16]}…`), made by "
            f"{training.steps:,} steps in {training.seconds:,.0f} s, {training.date}:\n\n"
            f"```bash\n{training.command}\n```\n"
        )
    return "".join(lines)


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
{_lineage(t)}
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
