"""The ``pipeline.yaml`` schema (pydantic), loading, ``--set`` overrides, and file
parameters anchored to the file that names them."""

from __future__ import annotations

import copy
import datetime
import enum
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from restore.api.errors import PipelineError

if TYPE_CHECKING:
    from restore.api.stage import Stage

INPUT_NODE = "input"
NODE_ID = r"^[A-Za-z_][A-Za-z0-9_-]*$"
OUTPUT_SUFFIX = r"^[A-Za-z0-9._+-]{0,40}$"
"""Letters, digits and ``. _ + -``: an output suffix can never name another folder."""
MAX_YAML_BYTES = 1 << 20  # a pipeline or sidecar file is a few hundred bytes
MAX_YAML_DEPTH = 32
MAX_YAML_ITEMS = 100_000  # values counted through aliases, so an alias bomb stops here


class Condition(enum.StrEnum):
    """When a node runs, judged on the pipeline's input image."""

    GRAYSCALE = "grayscale"  # gray files, and RGB files whose channels are (nearly) equal
    COLOR = "color"


def _british(value: Any) -> Any:
    """Accept the British spellings the summary uses ("colour", "greyscale")."""
    if isinstance(value, str):
        return {"colour": "color", "greyscale": "grayscale"}.get(value, value)
    return value


class NodeConfig(BaseModel):
    """One stage node of the DAG."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=NODE_ID, description="unique node name")
    uses: str = Field(description="qualified stage name, e.g. denoise.nlmeans")
    params: dict[str, Any] = Field(default_factory=dict, description="stage parameters")
    enabled: bool = Field(default=True, description="false: the node passes its image through")
    when: Annotated[Condition | None, BeforeValidator(_british)] = Field(
        default=None, description="run only on such inputs (grayscale or color)"
    )
    inputs: dict[str, str] | None = Field(
        default=None,
        description="input port -> 'node' or 'node.port' ('input' is the pipeline input); "
        "by default an image port takes the image of the nearest earlier node that makes one",
    )
    precision: Literal["float32", "bfloat16", "float16"] | None = Field(
        default=None, description="compute precision; the stage's default when omitted"
    )


class OutputConfig(BaseModel):
    """A node output written to disk for every input file."""

    model_config = ConfigDict(extra="forbid")

    node: str = Field(description="node id")
    port: str = Field(default="image", description="output port of that node")
    suffix: str = Field(
        default="",
        pattern=OUTPUT_SUFFIX,
        description="added to the file stem (letters, digits, '.', '_', '+', '-'); "
        "empty for the main restored image",
    )


class PipelineConfig(BaseModel):
    """A whole pipeline: nodes and the outputs to write."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    name: str = ""
    description: str = ""
    nodes: list[NodeConfig] = Field(min_length=1)
    outputs: list[OutputConfig] = Field(
        default_factory=list, description="default: the image of the last node"
    )

    @model_validator(mode="after")
    def _distinct_suffixes(self) -> PipelineConfig:
        """Two outputs of one image must never be written to the same file."""
        seen: dict[str, int] = {}
        for index, output in enumerate(self.outputs):
            key = output.suffix.casefold()
            if key in seen:
                raise ValueError(
                    f"outputs[{index}] has the same suffix {output.suffix!r} as "
                    f"outputs[{seen[key]}]: each output needs its own file name"
                )
            seen[key] = index
        return self


def _location(loc: Iterable[int | str], data: Mapping[str, Any]) -> str:
    parts = list(loc)
    nodes = data.get("nodes")
    if len(parts) >= 2 and parts[0] == "nodes" and isinstance(parts[1], int):
        node = nodes[parts[1]] if isinstance(nodes, list) and parts[1] < len(nodes) else None
        node_id = node.get("id") if isinstance(node, Mapping) else None
        head = f"node {node_id!r}" if node_id else f"nodes[{parts[1]}]"
        return ".".join([head, *map(str, parts[2:])])
    return ".".join(map(str, parts)) or "pipeline"


def parse_config(data: Any, source: str | Path | None = None) -> PipelineConfig:
    """Validate raw data against the schema; every problem is listed in one PipelineError."""
    if not isinstance(data, Mapping):
        raise PipelineError(["a pipeline must be a mapping with a 'nodes' list"], source)
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as error:
        problems = [f"{_location(e['loc'], data)}: {e['msg']}" for e in error.errors()]
        raise PipelineError(problems, source) from None


def load_yaml(
    path: str | Path,
    shape: str = "a pipeline must be a mapping with a 'nodes' list",
    *,
    empty_ok: bool = False,
) -> dict[str, Any]:
    """Read a YAML mapping (pipeline, sidecar, recipe); an empty file is ``{}`` when
    ``empty_ok``. A missing file, one that is not a regular file or not UTF-8
    text, bad YAML, YAML too large or too deeply nested, a value that is not
    plain data, or another shape (``shape`` says what is expected) is a one-line
    PipelineError naming the file."""
    path = Path(path)
    try:
        if not path.is_file() and path.exists():  # a folder, a pipe: never opened
            raise PipelineError(["not a regular file"], path)
        with path.open("rb") as fh:
            raw = fh.read(MAX_YAML_BYTES + 1)
    except OSError as error:
        raise PipelineError([f"cannot read: {error.strerror or error}"], path) from None
    if len(raw) > MAX_YAML_BYTES:
        raise PipelineError([f"file is larger than {MAX_YAML_BYTES // 1024} KiB"], path)
    try:
        data = plain_data(parse_yaml(raw.decode("utf-8")))
    except UnicodeDecodeError as error:
        problem = f"not UTF-8 text (byte {error.start})"
        raise PipelineError([problem], path) from None
    except ValueError as error:
        raise PipelineError([str(error)], path) from None
    if data is None and empty_ok:
        return {}
    if not isinstance(data, dict):
        raise PipelineError([shape], path)
    return data


def parse_yaml(text: str) -> Any:
    """``text`` parsed as safe YAML; any problem is a one-line ValueError."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ValueError(f"invalid YAML: {where}{' '.join(str(problem).split())}") from None
    except RecursionError:
        raise ValueError("invalid YAML: nested too deeply") from None


def plain_data(value: Any) -> Any:
    """``value`` checked to be plain data: mappings with text keys, lists, text,
    numbers, booleans and null (dates become ISO text), at most ``MAX_YAML_DEPTH``
    levels and ``MAX_YAML_ITEMS`` values; otherwise a one-line ValueError."""
    count = 0

    def check(item: Any, depth: int) -> Any:
        nonlocal count
        count += 1
        if count > MAX_YAML_ITEMS:
            raise ValueError(f"too many values (more than {MAX_YAML_ITEMS})")
        if depth > MAX_YAML_DEPTH:
            raise ValueError(f"nested more than {MAX_YAML_DEPTH} levels deep")
        if item is None or isinstance(item, str | bool | int | float):
            return item
        if isinstance(item, datetime.date):
            return item.isoformat()
        if isinstance(item, list):
            return [check(v, depth + 1) for v in item]
        if isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                raise ValueError("mapping keys must be text")
            return {k: check(v, depth + 1) for k, v in item.items()}
        raise ValueError(f"unsupported value of type {type(item).__name__}")

    return check(value, 0)


NODE_FIELDS = ("enabled", "when", "precision", "uses")
"""Node fields an override may set; any other key is a stage parameter."""


def parse_overrides(overrides: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``node.param=value`` strings (value parsed as YAML) as ``{node: {param: value}}``."""
    parsed: dict[str, dict[str, Any]] = {}
    problems = []
    for override in overrides:
        key, sep, raw = override.partition("=")
        node_id, dot, param = key.strip().partition(".")
        if not sep or not dot or not param:
            problems.append(f"--set {override!r}: expected node.param=value")
            continue
        try:
            value = plain_data(parse_yaml(raw)) if raw.strip() else ""
        except ValueError as error:
            problems.append(f"--set {override!r}: {error}")
            continue
        parsed.setdefault(node_id.strip(), {})[param.strip()] = value
    if problems:
        raise PipelineError(problems)
    return parsed


def apply_overrides(
    data: Mapping[str, Any], overrides: Iterable[str] | Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Raw pipeline data with overrides applied: ``node.param=value`` strings or a
    ``{node: {param: value}}`` mapping (per-image sidecar files). ``enabled``,
    ``when``, ``precision`` and ``uses`` set node fields; other keys set parameters.
    """
    if not isinstance(overrides, Mapping):
        overrides = parse_overrides(overrides)
    result: dict[str, Any] = copy.deepcopy(dict(data))
    nodes = {n.get("id"): n for n in result.get("nodes") or [] if isinstance(n, dict)}
    unknown = [
        f"override: unknown node {node_id!r}" for node_id in overrides if node_id not in nodes
    ]
    if unknown:
        raise PipelineError(unknown)
    for node_id, values in overrides.items():
        if not isinstance(values, Mapping):
            raise PipelineError([f"override of node {node_id!r}: expected a mapping of parameters"])
        node = nodes[node_id]
        for key, value in values.items():
            if key in NODE_FIELDS:
                node[key] = value
                continue
            params = node.get("params") or {}
            if not isinstance(params, Mapping):
                raise PipelineError([f"node {node_id!r}: params must be a mapping"])
            node["params"] = {**params, key: value}
    return result


def path_fields(stage: type[Stage]) -> set[str]:
    """Parameters of ``stage`` that name files (``weights``, ``kernel_file`` ...)."""
    return {
        name
        for name, info in stage.Params.model_fields.items()
        if name == "weights" or _mentions_path(info.annotation)
    }


def _mentions_path(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return True
    return any(_mentions_path(argument) for argument in get_args(annotation))


def anchored(
    overrides: Mapping[str, Any],
    uses: Mapping[str, str],
    stages_by_name: Mapping[str, type[Stage]],
    folder: Path,
) -> dict[str, Any]:
    """``{node: {param: value}}`` with each relative file parameter made relative to
    ``folder`` (that of the pipeline or sidecar file naming it), as a YAML user expects
    of a path in a file. ``uses``: each node's stage name (an override's ``uses`` wins);
    anything malformed is left for validation to report."""
    result: dict[str, Any] = {}
    for node_id, values in overrides.items():
        stage = stages_by_name.get(str(uses.get(node_id)))
        if isinstance(values, Mapping):
            stage = stages_by_name.get(str(values.get("uses", uses.get(node_id)))) or stage
        if stage is None or not isinstance(values, Mapping):
            result[node_id] = values
            continue
        files = path_fields(stage)
        result[node_id] = {
            key: str(folder.absolute() / value)
            if key in files and isinstance(value, str | PurePath) and not Path(value).is_absolute()
            else value
            for key, value in values.items()
        }
    return result


def anchored_pipeline(
    data: Mapping[str, Any], stages_by_name: Mapping[str, type[Stage]], folder: Path
) -> dict[str, Any]:
    """Raw pipeline data with its nodes' relative file parameters made relative to
    ``folder`` (the pipeline file's): see ``anchored``."""
    result: dict[str, Any] = copy.deepcopy(dict(data))
    nodes = [n for n in result.get("nodes") or [] if isinstance(n, dict)]
    params = {str(n.get("id")): n["params"] for n in nodes if isinstance(n.get("params"), Mapping)}
    uses = {str(n.get("id")): str(n.get("uses")) for n in nodes}
    fixed = anchored(params, uses, stages_by_name, folder)
    for node in nodes:
        if str(node.get("id")) in fixed:
            node["params"] = fixed[str(node.get("id"))]
    return result
