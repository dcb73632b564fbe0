"""restore.engine.config: hostile YAML and --set values become one-line PipelineErrors."""

from __future__ import annotations

from pathlib import Path

import pytest

from restore.api.errors import PipelineError
from restore.engine.config import load_yaml, parse_config, parse_overrides

NODES = "nodes: [{id: a, uses: toy.add}]\n"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\xff\xfe\x00binary\x80", "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (b"a: " + b"[" * 40 + b"1" + b"]" * 40, "nested more than"),
        (b"a: !!python/object/apply:os.system ['echo hi']", "invalid YAML"),
        (b"a: !!binary aGk=", "unsupported value of type bytes"),
        (b"a: !!set {x: null}", "unsupported value of type set"),
        (b"? [1, 2]\n: x", "invalid YAML"),
        (b"{1: x}", "keys must be text"),
        (b"nodes: [", "invalid YAML: line"),
        (b"x" * (2 << 20), "larger than"),
    ],
)
def test_hostile_yaml_is_a_one_line_error(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_bytes(content)
    with pytest.raises(PipelineError, match=problem) as caught:
        load_yaml(path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_alias_bombs_stop_at_the_item_limit(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines))
    with pytest.raises(PipelineError, match="too many values"):
        load_yaml(path)


def test_dates_become_text(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(NODES + "description: 2026-12-01\n")
    assert load_yaml(path)["description"] == "2026-12-01"


@pytest.mark.parametrize(
    "override",
    ["deblur.sigma=[1", "x.y=!!python/object/apply:os.system ['echo hi']", "x.y=!!binary aGk="],
)
def test_bad_set_values_are_one_line_errors(override: str) -> None:
    with pytest.raises(PipelineError, match="--set") as caught:
        parse_overrides([override])
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("suffix", ["/../../evil", "..\\x", "a/b", "\x00", "ä", "x" * 41])
def test_output_suffixes_cannot_name_folders(suffix: str) -> None:
    data = {"nodes": [{"id": "a", "uses": "toy.add"}], "outputs": [{"node": "a", "suffix": suffix}]}
    with pytest.raises(PipelineError, match="suffix"):
        parse_config(data)


def test_outputs_need_distinct_suffixes() -> None:
    outputs = [{"node": "a"}, {"node": "b", "port": "mask", "suffix": ""}]
    nodes = [{"id": "a", "uses": "toy.add"}, {"id": "b", "uses": "toy.bright"}]
    with pytest.raises(PipelineError, match="same suffix"):
        parse_config({"nodes": nodes, "outputs": outputs})
    outputs[1]["suffix"] = ".MASK"
    outputs.append({"node": "b", "port": "mask", "suffix": ".mask"})
    with pytest.raises(PipelineError, match="same suffix"):
        parse_config({"nodes": nodes, "outputs": outputs})


def test_overrides_of_a_node_whose_params_are_no_mapping() -> None:
    from restore.engine.config import apply_overrides

    data = {"nodes": [{"id": "a", "uses": "toy.add", "params": [1, 2]}]}
    with pytest.raises(PipelineError, match="node 'a': params must be a mapping"):
        apply_overrides(data, ["a.amount=1"])


@pytest.mark.parametrize(("written", "meant"), [("colour", "color"), ("greyscale", "grayscale")])
def test_british_spellings_of_conditions(written: str, meant: str) -> None:
    config = parse_config({"nodes": [{"id": "a", "uses": "toy.add", "when": written}]})
    assert config.nodes[0].when == meant


@pytest.mark.parametrize("when", [["color"], {"a": 1}, 3, "sometimes"])
def test_bad_conditions_are_problems(when: object) -> None:
    with pytest.raises(PipelineError, match="when"):
        parse_config({"nodes": [{"id": "a", "uses": "toy.add", "when": when}]})
