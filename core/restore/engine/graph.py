"""Binding a pipeline config to installed stages: the validated, ordered plan."""

from __future__ import annotations

import graphlib
from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from restore.api.errors import PipelineError
from restore.api.stage import Port, PortKind, Stage, StageParams
from restore.engine.config import INPUT_NODE, Condition, OutputConfig, PipelineConfig

Ref = tuple[str, str]
"""A node output: (node id, port name); the pipeline input is ("input", "image")."""

INPUT_REF: Ref = (INPUT_NODE, "image")


@dataclass(frozen=True)
class BoundNode:
    """A node whose stage, parameters and input wiring have been checked."""

    id: str
    stage: type[Stage]
    params: StageParams
    inputs: dict[str, Ref]
    enabled: bool
    when: Condition | None
    precision: str


@dataclass(frozen=True)
class Plan:
    """Nodes in a valid execution order and the outputs to write."""

    nodes: tuple[BoundNode, ...]
    outputs: tuple[OutputConfig, ...]

    @property
    def main_output(self) -> OutputConfig:
        """The output written under the input's own name (empty suffix), else the first."""
        return next((o for o in self.outputs if not o.suffix), self.outputs[0])

    def consumers(self) -> dict[Ref, int]:
        """How many node inputs and declared outputs read each node output."""
        counts: dict[Ref, int] = {}
        for node in self.nodes:
            for ref in node.inputs.values():
                counts[ref] = counts.get(ref, 0) + 1
        for output in self.outputs:
            ref = (output.node, output.port)
            counts[ref] = counts.get(ref, 0) + 1
        return counts


def _param_problem(node_id: str, stage: type[Stage], error: ErrorDetails) -> str:
    field = ".".join(map(str, error["loc"])) or "params"
    where = f"node {node_id!r} ({stage.name}): parameter {field!r}"
    if error["type"] == "extra_forbidden":
        known = ", ".join(stage.Params.model_fields) or "none"
        return f"{where} is unknown (expected one of: {known})"
    return f"{where} = {error.get('input')!r}: {error['msg']}"


def _output_port(
    source_id: str, port: str | None, stage: type[Stage] | None, wanted: str
) -> tuple[str | None, str | None]:
    """Resolve 'node' or 'node.port' to a port of ``stage``; (port, problem)."""
    if stage is None:  # the pipeline input
        return ("image", None) if port in (None, "image") else (None, "the input has only 'image'")
    if port is not None:
        return (port, None) if port in stage.outputs else (None, f"has no output {port!r}")
    if wanted in stage.outputs:
        return wanted, None
    if len(stage.outputs) == 1:
        return next(iter(stage.outputs)), None
    return None, f"has several outputs ({', '.join(stage.outputs)}): name one as node.port"


def bind(config: PipelineConfig, stages_by_name: Mapping[str, type[Stage]]) -> Plan:
    """Check stages, parameters, wiring, kinds and acyclicity; collect every problem.

    ``stages_by_name`` holds the installed stages by qualified name.
    """
    problems: list[str] = []
    stages: dict[str, type[Stage] | None] = {}
    seen: set[str] = set()
    for node in config.nodes:
        if node.id == INPUT_NODE or node.id in seen:
            problems.append(f"node {node.id!r}: duplicate or reserved id")
        seen.add(node.id)
        stages[node.id] = stages_by_name.get(node.uses)
        if stages[node.id] is None:
            installed = ", ".join(sorted(stages_by_name)) or "none"
            problems.append(
                f"node {node.id!r}: unknown stage {node.uses!r} (installed: {installed})"
            )

    bound: dict[str, BoundNode] = {}
    last_image: Ref = INPUT_REF
    for node in config.nodes:
        stage = stages[node.id]
        if stage is None:
            continue
        try:
            params = stage.Params.model_validate(node.params)
        except ValidationError as error:
            problems.extend(_param_problem(node.id, stage, e) for e in error.errors())
            params = None
        if params is not None:
            problems.extend(f"node {node.id!r} ({stage.name}): {p}" for p in stage.check(params))
        precision = node.precision or stage.tiling.precisions[0]
        if precision not in stage.tiling.precisions:
            problems.append(
                f"node {node.id!r} ({stage.name}): precision {precision!r} not supported "
                f"(supported: {', '.join(stage.tiling.precisions)})"
            )
        inputs = _wire(node.id, node.inputs, stage, stages, last_image, problems)
        if params is not None:
            bound[node.id] = BoundNode(
                node.id, stage, params, inputs, node.enabled, node.when, precision
            )
        if "image" in stage.outputs:
            last_image = (node.id, "image")

    outputs = tuple(config.outputs) or (OutputConfig(node=config.nodes[-1].id),)
    for output in outputs:
        stage = stages.get(output.node)
        if output.node not in stages:
            problems.append(f"output: unknown node {output.node!r}")
        elif stage is not None and output.port not in stage.outputs:
            problems.append(f"output: node {output.node!r} has no output {output.port!r}")
    suffixes = [o.suffix for o in outputs]
    if len(set(suffixes)) != len(suffixes):
        problems.append("outputs: each output needs a different suffix")

    order = _order(config, bound, problems)
    if problems:
        raise PipelineError(problems)
    return Plan(tuple(bound[node_id] for node_id in order), outputs)


def _wire(
    node_id: str,
    declared: dict[str, str] | None,
    stage: type[Stage],
    stages: dict[str, type[Stage] | None],
    last_image: Ref,
    problems: list[str],
) -> dict[str, Ref]:
    """Resolve a node's input references and check that port kinds match."""
    declared = dict(declared or {})
    for unknown in declared.keys() - stage.inputs.keys():
        problems.append(
            f"node {node_id!r} ({stage.name}): unknown input {unknown!r} "
            f"(inputs: {', '.join(stage.inputs) or 'none'})"
        )
    wired: dict[str, Ref] = {}
    for port_name, port in stage.inputs.items():
        if port_name not in declared:
            if port.kind is PortKind.IMAGE:
                wired[port_name] = last_image
            else:
                problems.append(f"node {node_id!r} ({stage.name}): input {port_name!r} not given")
            continue
        source_id, _, source_port = declared[port_name].partition(".")
        if source_id != INPUT_NODE and source_id not in stages:
            problems.append(
                f"node {node_id!r}: input {port_name!r} refers to unknown node {source_id!r}"
            )
            continue
        source_stage = stages.get(source_id)
        if source_id != INPUT_NODE and source_stage is None:
            continue  # its unknown stage is reported already
        resolved, problem = _output_port(source_id, source_port or None, source_stage, port_name)
        if problem:
            problems.append(f"node {node_id!r}: input {port_name!r}: {source_id!r} {problem}")
            continue
        assert resolved is not None  # _output_port names a port whenever it reports no problem
        source: Port = source_stage.outputs[resolved] if source_stage else Port()
        if source.kind is not port.kind:
            problems.append(
                f"node {node_id!r}: input {port_name!r} expects a {port.kind.value} but "
                f"{source_id}.{resolved} gives a {source.kind.value}"
            )
            continue
        wired[port_name] = (source_id, resolved)
    return wired


def _order(config: PipelineConfig, bound: dict[str, BoundNode], problems: list[str]) -> list[str]:
    """A topological order of the nodes (list order breaks ties); a cycle is named."""
    sorter = graphlib.TopologicalSorter(
        {
            node_id: {ref[0] for ref in node.inputs.values() if ref[0] != INPUT_NODE}
            for node_id, node in bound.items()
        }
    )
    position = {node.id: i for i, node in enumerate(config.nodes)}
    try:
        sorter.prepare()
    except graphlib.CycleError as error:
        cycle = error.args[1]
        problems.append(f"cycle: {' -> '.join(cycle)}")
        return []
    order: list[str] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda n: position.get(n, -1))
        order.extend(ready)
        sorter.done(*ready)
    return [node_id for node_id in order if node_id in bound]
