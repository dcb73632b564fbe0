"""The pipelines a server offers: their description for the page, the checking of a
user's parameters, and the versions a run record names."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from restore.api.errors import PipelineError
from restore.api.stage import Stage
from restore.api.weights import Manifest
from restore.app.pipeline import Pipeline
from restore.app.registry import Registry
from restore.engine.config import NODE_FIELDS, path_fields, plain_data
from restore.engine.graph import Plan

logger = logging.getLogger(__name__)

MAX_PARAMS_BYTES = 64 << 10


class BadRequest(ValueError):
    """A request a user can fix: an unknown pipeline, bad parameters (HTTP 422)."""


def optional_nodes(plan: Plan) -> set[str]:
    """Nodes a user may switch on and off: all but those whose output is a pipeline output."""
    outputs = {output.node for output in plan.outputs}
    return {node.id for node in plan.nodes if node.id not in outputs}


class Catalog:
    """The pipelines of a folder (``<name>.yaml``), loaded once against the installed stages."""

    def __init__(self, pipelines: Mapping[str, Pipeline], registry: Registry) -> None:
        self.pipelines = dict(pipelines)
        self.registry = registry

    @classmethod
    def load(cls, folder: Path, registry: Registry | None = None) -> Catalog:
        """Every pipeline in ``folder``; one that does not load is logged and left out."""
        registry = registry if registry is not None else Registry.from_entry_points()
        pipelines = {}
        for path in sorted(folder.glob("*.yaml")):
            try:
                pipelines[path.stem] = Pipeline.from_yaml(path, registry=registry)
            except PipelineError as error:
                logger.warning("pipeline %s not offered: %s", path.name, error)
        return cls(pipelines, registry)

    def get(self, name: str) -> Pipeline:
        """The pipeline called ``name``, or BadRequest."""
        if name not in self.pipelines:
            known = ", ".join(self.pipelines) or "none"
            raise BadRequest(f"unknown pipeline {name!r} (known: {known})")
        return self.pipelines[name]

    def describe(self) -> list[dict[str, Any]]:
        """Every pipeline with its nodes' parameter schemas and values, for the page."""
        return [self._describe(name, pipeline) for name, pipeline in self.pipelines.items()]

    def _describe(self, name: str, pipeline: Pipeline) -> dict[str, Any]:
        plan = pipeline.plan
        optional = optional_nodes(plan)
        nodes = []
        for node in plan.nodes:
            hidden = path_fields(node.stage)
            schema = node.stage.Params.model_json_schema()
            properties = schema.get("properties", {})
            for field in hidden:
                properties.pop(field, None)
            if "required" in schema:
                schema["required"] = [r for r in schema["required"] if r not in hidden]
            nodes.append(
                {
                    "id": node.id,
                    "stage": node.stage.name,
                    "summary": node.stage.summary,
                    "enabled": node.enabled,
                    "optional": node.id in optional,
                    "when": node.when.value if node.when is not None else None,
                    "schema": schema,
                    "values": node.params.model_dump(mode="json", exclude=hidden),
                }
            )
        return {
            "name": name,
            "title": pipeline.config.name or name,
            "description": pipeline.config.description,
            "nodes": nodes,
        }

    def overrides(self, name: str, text: str | None) -> dict[str, dict[str, Any]]:
        """A user's ``{"node": {"param": value, "enabled": bool}}`` (JSON text) checked
        like ``--set`` overrides: BadRequest names the first problem, on one line."""
        pipeline = self.get(name)
        if not text or not text.strip():
            return {}
        if len(text) > MAX_PARAMS_BYTES:
            raise BadRequest(f"params: larger than {MAX_PARAMS_BYTES // 1024} KiB")
        try:
            raw = plain_data(json.loads(text, parse_constant=_no_constant, parse_float=_finite))
        except RecursionError:  # nested deeper than the parser goes
            raise BadRequest("params: not valid JSON (nested too deeply)") from None
        except ValueError as error:
            raise BadRequest(f"params: not valid JSON ({' '.join(str(error).split())})") from None
        if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
            raise BadRequest('params: expected {"node": {"param": value}}')
        nodes = {node.id: node for node in pipeline.plan.nodes}
        optional = optional_nodes(pipeline.plan)
        for node_id, values in raw.items():
            node = nodes.get(node_id)
            if node is None:
                raise BadRequest(f"params: unknown node {node_id!r} (nodes: {', '.join(nodes)})")
            for key, value in values.items():
                if key == "enabled":
                    if not isinstance(value, bool):
                        raise BadRequest(f"params: {node_id}.enabled must be true or false")
                    if value != node.enabled and node_id not in optional:
                        raise BadRequest(f"params: node {node_id!r} cannot be switched off")
                elif key in NODE_FIELDS:
                    raise BadRequest(f"params: {node_id}.{key} cannot be changed here")
                elif key in path_fields(node.stage):
                    raise BadRequest(f"params: {node_id}.{key} names a file: not allowed here")
        try:
            pipeline.plan_with(raw)
        except PipelineError as error:
            raise BadRequest(f"params: {'; '.join(error.problems)}") from None
        return raw

    def versions(self, name: str) -> dict[str, Any]:
        """Per node: the stage's plugin and version, and the version and SHA-256
        prefix of each weights file its package ships for it."""
        found: dict[str, Any] = {}
        for node in self.get(name).plan.nodes:
            stage = node.stage
            plugin = self.registry.owner(stage.name)
            info = next((p for p in self.registry.plugins if p.name == plugin), None)
            found[node.id] = {
                "stage": stage.name,
                "plugin": plugin,
                "version": info.version if info is not None else None,
                "weights": _shipped_weights(stage),
            }
        return found


def _shipped_weights(stage: type[Stage]) -> dict[str, str]:
    """``{name: "<version> <sha256[:12]>"}`` of the manifests in the stage's package
    ``weights`` folder that are made for it; empty for a stage without weights."""
    package = stage.__module__.partition(".")[0]
    try:
        folder = resources.files(package).joinpath("weights")
        entries = sorted(folder.iterdir(), key=lambda entry: entry.name) if folder.is_dir() else []
    except (ModuleNotFoundError, OSError, TypeError):
        return {}
    weights = {}
    for entry in entries:
        if not entry.name.endswith(".json"):
            continue
        try:
            manifest = Manifest.model_validate_json(entry.read_bytes())
        except (OSError, ValueError):
            continue
        if manifest.stage == stage.name:
            weights[manifest.name] = f"{manifest.version} {manifest.sha256[:12]}"
    return weights


def _no_constant(name: str) -> float:
    """JSON's NaN and Infinity are not parameter values."""
    raise ValueError(f"{name} is not allowed")


def _finite(text: str) -> float:
    """A JSON number, unless it overflows to infinity (``1e400``): not a parameter value."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:40]} is too large")
    return value


def megapixels_limit(text: str | None) -> float | None:
    """The ``max_megapixels`` form field: a number > 0, or None when absent or empty."""
    if text is None or not text.strip() or text.strip().lower() in ("null", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise BadRequest(f"max_megapixels {text[:40]!r}: not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise BadRequest(f"max_megapixels {text[:40]!r}: must be a number above 0")
    return value
