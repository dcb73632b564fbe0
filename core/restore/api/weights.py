"""Verified model weights: safetensors files with a JSON manifest, shipped inside plugin packages.

``<name>.safetensors`` sits beside ``<name>.json`` (a ``Manifest``). Loading checks the SHA-256
of the weight bytes against the manifest before parsing them; nothing is fetched at run time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from safetensors.torch import load as parse_safetensors

from restore.api.errors import StageUnavailable
from restore.api.models import models
from restore.api.network import NetworkConfig, NetworkSpec

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
    started_from: Origin | None = None
    """The weights this training fine-tuned, if it did not start from random."""


class Origin(BaseModel):
    """Weights a training started from: which file, and how that file was made."""

    model_config = ConfigDict(extra="forbid")
    name: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    training: Training


Training.model_rebuild()  # resolve the forward reference to Origin


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
        state = parse_safetensors(data)
    except Exception as e:  # safetensors raises its own error types
        raise WeightsError(path, f"not a valid safetensors file ({e})") from e
    broken = [
        name
        for name, tensor in state.items()
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all())
    ]
    if broken:
        raise WeightsError(path, f"tensor {broken[0]!r} holds NaN or infinite values")
    return state


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


def load_network(
    spec: NetworkSpec[Any],
    path: WeightsPath,
    *,
    device: torch.device | str,
    stage: str,
    max_halo: int | None = None,
) -> tuple[torch.nn.Module, NetworkConfig]:
    """The verified network at ``path`` for ``stage`` and its configuration.

    The manifest must name ``stage`` and ``spec.architecture``, its config must
    parse as ``spec.config``, the hash must verify, and (with ``max_halo``, the
    stage's declared halo) the network's receptive field must fit the halo, so
    tiles stay exact. Cached once per process and device, like ``load_model``.
    """
    manifest = read_manifest(path, expect_stage=stage, expect_architecture=spec.architecture)
    try:
        config = spec.parse(manifest.config)
    except ValueError as error:
        raise WeightsError(path, str(error)) from None
    radius = spec.halo(config)
    if max_halo is not None and radius > max_halo:
        raise WeightsError(
            path,
            f"this {spec.architecture} sees {radius} px around each pixel, more than "
            f"{stage}'s halo of {max_halo} px",
        )
    module = load_model(
        lambda raw: spec.build(spec.parse(raw)),
        path,
        device=device,
        expect_stage=stage,
        expect_architecture=spec.architecture,
    )
    return module, config


def weights_problems(path: Path | None, *, stage: str, architectures: tuple[str, ...]) -> list[str]:
    """A stage's ``check`` of its optional ``weights`` parameter: the problems of the
    user's file at ``path`` (none when it is unset or fine)."""
    if path is None:
        return []
    problem = check_weights_file(path, stage=stage, architectures=architectures)
    return [problem] if problem else []


def check_weights_file(path: Path, *, stage: str, architectures: tuple[str, ...]) -> str | None:
    """Why the user's weights file at ``path`` cannot serve ``stage``, or None.

    Reads only the manifest (the hash is verified when the weights load), so a
    pipeline can be validated before any image is read.
    """
    if path.suffix != ".safetensors":
        return f"{path}: expected a .safetensors file made by `restore train`"
    if not path.is_file():
        return f"{path}: no such weights file"
    try:
        manifest = read_manifest(path, expect_stage=stage)
    except WeightsError as error:
        return str(error)
    if manifest.architecture not in architectures:
        return (
            f"{path}: weights are for architecture {manifest.architecture!r}, "
            f"not {' or '.join(map(repr, architectures))}"
        )
    return None
