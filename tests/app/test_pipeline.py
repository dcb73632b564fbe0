"""pipeline.yaml validation and the DAG executor, on toy stages with known behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from fakes import Add, ToyPlugin
from restore import Pipeline, PipelineError
from restore.api.errors import RestoreError
from restore.app.registry import Registry
from restore.engine.config import load_yaml
from restore.engine.context import RunContext
from restore.engine.executor import execute


@pytest.fixture
def registry() -> Registry:
    return Registry.from_plugins(ToyPlugin())


def pipeline(registry: Registry, nodes: list[dict], **extra) -> Pipeline:
    return Pipeline({"nodes": nodes, **extra}, registry=registry)


def problems(registry: Registry, nodes: list[dict], **extra) -> str:
    with pytest.raises(PipelineError) as caught:
        pipeline(registry, nodes, **extra)
    return "\n".join(caught.value.problems)


def gray_as_rgb(value: float = 0.3) -> np.ndarray:
    return np.full((20, 30, 3), value, np.float32)


# --- validation ---------------------------------------------------------------------------


def test_unknown_stage_lists_installed(registry: Registry) -> None:
    text = problems(registry, [{"id": "a", "uses": "toy.nope"}])
    assert "node 'a'" in text and "unknown stage 'toy.nope'" in text
    assert "toy.add" in text and "toy.fill" in text


def test_bad_parameter_names_value_and_expectation(registry: Registry) -> None:
    text = problems(registry, [{"id": "a", "uses": "toy.add", "params": {"amount": "lots"}}])
    assert "parameter 'amount' = 'lots'" in text and "valid number" in text
    text = problems(registry, [{"id": "a", "uses": "toy.add", "params": {"amount": 5}}])
    assert "parameter 'amount' = 5" in text and "less than or equal to 1" in text


def test_unknown_parameter_lists_expected(registry: Registry) -> None:
    text = problems(registry, [{"id": "a", "uses": "toy.add", "params": {"amout": 0.2}}])
    assert "parameter 'amout' is unknown (expected one of: amount)" in text


def test_unknown_input_node_and_port(registry: Registry) -> None:
    text = problems(registry, [{"id": "a", "uses": "toy.add", "inputs": {"image": "ghost"}}])
    assert "refers to unknown node 'ghost'" in text
    text = problems(registry, [{"id": "a", "uses": "toy.add", "inputs": {"picture": "input"}}])
    assert "unknown input 'picture'" in text


def test_cycle_is_named(registry: Registry) -> None:
    text = problems(
        registry,
        [
            {"id": "a", "uses": "toy.add", "inputs": {"image": "b"}},
            {"id": "b", "uses": "toy.add", "inputs": {"image": "a"}},
        ],
    )
    assert "cycle:" in text and ("a -> b" in text or "b -> a" in text)


def test_mismatched_kinds(registry: Registry) -> None:
    text = problems(
        registry,
        [
            {"id": "m", "uses": "toy.bright"},
            {"id": "f", "uses": "toy.fill", "inputs": {"image": "m.mask", "mask": "m.mask"}},
        ],
    )
    assert "input 'image' expects a image but m.mask gives a mask" in text


def test_missing_mask_input_and_schema_errors(registry: Registry) -> None:
    text = problems(registry, [{"id": "f", "uses": "toy.fill"}])
    assert "input 'mask' not given" in text
    text = problems(registry, [{"id": "x", "uses": "toy.add", "colour": 1}])
    assert "node 'x'.colour: Extra inputs are not permitted" in text
    text = problems(registry, [{"id": "x", "uses": "toy.add", "when": "sometimes"}])
    assert "node 'x'.when" in text and "grayscale" in text


def test_every_problem_reported_at_once(registry: Registry) -> None:
    text = problems(
        registry,
        [
            {"id": "a", "uses": "toy.nope"},
            {"id": "b", "uses": "toy.add", "params": {"amount": 9}},
            {"id": "a", "uses": "toy.add"},
        ],
        outputs=[{"node": "zz"}],
    )
    for expected in ("unknown stage", "parameter 'amount'", "duplicate", "unknown node 'zz'"):
        assert expected in text


def test_unsupported_precision(registry: Registry) -> None:
    text = problems(registry, [{"id": "a", "uses": "toy.add", "precision": "bfloat16"}])
    assert "precision 'bfloat16' not supported (supported: float32)" in text


def test_overrides(registry: Registry) -> None:
    nodes = [{"id": "a", "uses": "toy.add"}]
    p = Pipeline({"nodes": nodes}, registry=registry, overrides=["a.amount=0.5"])
    assert p.plan.nodes[0].params.amount == 0.5
    p = Pipeline({"nodes": nodes}, registry=registry, overrides=["a.enabled=false"])
    assert p.plan.nodes[0].enabled is False
    with pytest.raises(PipelineError, match="unknown node 'b'"):
        Pipeline({"nodes": nodes}, registry=registry, overrides=["b.amount=1"])
    assert nodes == [{"id": "a", "uses": "toy.add"}]  # the caller's data is untouched


def test_yaml_errors_name_the_file(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: [\n  - id: a\n")
    with pytest.raises(PipelineError, match=r"bad\.yaml: invalid YAML: line"):
        load_yaml(bad)
    with pytest.raises(PipelineError, match="cannot read"):
        load_yaml(tmp_path / "missing.yaml")


# --- execution ----------------------------------------------------------------------------


def test_runs_in_topological_order_not_list_order(registry: Registry) -> None:
    p = pipeline(
        registry,
        [
            {
                "id": "second",
                "uses": "toy.add",
                "params": {"amount": 0.2},
                "inputs": {"image": "first"},
            },
            {
                "id": "first",
                "uses": "toy.add",
                "params": {"amount": 0.1},
                "inputs": {"image": "input"},
            },
        ],
        outputs=[{"node": "second"}],
    )
    assert [n.id for n in p.plan.nodes] == ["first", "second"]
    np.testing.assert_allclose(p.run(gray_as_rgb(0.3)).image, 0.6, atol=1e-6)


def test_multi_input_node_gets_image_and_mask(registry: Registry) -> None:
    p = pipeline(
        registry,
        [
            {"id": "mask", "uses": "toy.bright"},
            {"id": "fill", "uses": "toy.fill", "inputs": {"image": "input", "mask": "mask"}},
        ],
        outputs=[{"node": "fill"}, {"node": "mask", "port": "mask", "suffix": ".mask"}],
    )
    image = np.zeros((8, 8, 3), np.float32)
    image[:4] = 0.9
    result = p.run(image)
    assert result.image[:4].max() == 0 and np.allclose(result.image[4:], 0)
    assert result.outputs["mask.mask"][:4].min() == 1 and result.outputs["mask.mask"][4:].max() == 0


def test_default_wiring_follows_the_image(registry: Registry) -> None:
    p = pipeline(
        registry,
        [
            {"id": "a", "uses": "toy.add", "params": {"amount": 0.1}},
            {"id": "m", "uses": "toy.bright"},
            {"id": "b", "uses": "toy.add", "params": {"amount": 0.1}},
        ],
    )
    wiring = {n.id: n.inputs for n in p.plan.nodes}
    assert wiring == {
        "a": {"image": ("input", "image")},
        "m": {"image": ("a", "image")},
        "b": {"image": ("a", "image")},
    }


def test_condition_runs_only_on_matching_input(registry: Registry) -> None:
    p = pipeline(registry, [{"id": "tint", "uses": "toy.tint", "when": "grayscale"}])
    colour = np.zeros((16, 16, 3), np.float32)
    colour[..., 0] = 0.8
    result = p.run(colour)
    assert result.bypassed == {"tint": "input is colour"}
    assert result.notes == ["tint bypassed (input is colour)"]
    np.testing.assert_array_equal(result.image, colour)
    result = p.run(gray_as_rgb(0.4))  # gray stored as RGB counts as grayscale
    assert result.bypassed == {} and result.notes == ["tint ran (input is grayscale)"]
    np.testing.assert_allclose(result.image[0, 0], [0.4, 0.2, 0.1], atol=1e-5)


def test_disabled_node_passes_image_and_bypasses_dependents(registry: Registry) -> None:
    p = pipeline(
        registry,
        [
            {"id": "mask", "uses": "toy.bright", "enabled": False},
            {"id": "fill", "uses": "toy.fill", "inputs": {"image": "input", "mask": "mask"}},
            {"id": "add", "uses": "toy.add", "params": {"amount": 0.1}, "enabled": False},
        ],
    )
    result = p.run(gray_as_rgb(0.9))
    assert result.bypassed == {
        "mask": "disabled",
        "fill": "no input from mask.mask",
        "add": "disabled",
    }
    assert result.notes == ["fill bypassed (no input from mask.mask)"]
    np.testing.assert_allclose(result.image, 0.9)


def test_non_finite_stage_outputs_fail_the_image(registry: Registry) -> None:
    p = pipeline(registry, [{"id": "add", "uses": "toy.add"}])
    image = gray_as_rgb(0.5)
    image[3, 4, 1] = np.nan  # passed on by the stage, as broken weights would make it
    with pytest.raises(RestoreError, match=r"node 'add' .* NaN or infinite"):
        execute(p.plan, image, p.pool, RunContext())


@pytest.mark.parametrize("device", ["tpu", "banana", "cuda:x", "meta", ""])
def test_unknown_devices_are_one_line_errors(registry: Registry, device: str) -> None:
    p = pipeline(registry, [{"id": "add", "uses": "toy.add"}])
    with pytest.raises(ValueError, match=r"--device .*unknown device"):
        p.tile_options(device=device)


def test_intermediates_freed_as_soon_as_unused(registry: Registry, monkeypatch) -> None:
    import inspect

    import restore.engine.executor as executor

    live: list[int] = []
    real = executor.run_stage

    def spy(stage, inputs, params, options, progress=None, cancel=None):
        frame = inspect.currentframe()
        while frame.f_code.co_name != "execute":
            frame = frame.f_back
        live.append(len(frame.f_locals["values"]))  # node outputs the executor still holds
        return real(stage, inputs, params, options, progress=progress, cancel=cancel)

    monkeypatch.setattr(executor, "run_stage", spy)
    p = pipeline(registry, [{"id": f"n{i}", "uses": "toy.add"} for i in range(5)])
    p.run(gray_as_rgb(0.1))
    assert live == [1, 1, 1, 1, 1]  # only the current input is alive, never the whole chain


def test_scale_and_lowres_stages(registry: Registry) -> None:
    p = pipeline(registry, [{"id": "up", "uses": "toy.double"}])
    assert p.run(np.zeros((10, 7, 3), np.float32)).image.shape == (20, 14, 3)
    p = pipeline(registry, [{"id": "tint", "uses": "toy.tint"}])
    assert p.run(np.zeros((100, 50, 1), np.float32)).image.shape == (100, 50, 3)


def test_a_scaling_node_over_the_pixel_limit_is_refused_before_it_runs(
    registry: Registry,
) -> None:
    p = pipeline(registry, [{"id": "a", "uses": "toy.add"}, {"id": "up", "uses": "toy.double"}])
    image = np.zeros((10, 7, 3), np.float32)
    assert p.run(image, max_pixels=280).image.shape == (20, 14, 3)  # exactly at the limit
    with pytest.raises(RestoreError) as caught:
        p.run(image, max_pixels=279)
    assert str(caught.value) == (
        "node 'up' (toy.double) would make a 14 x 20 image (0 MP), over the 0.000279 MP "
        "limit: enlarge a smaller image or raise the limit"
    )
    disabled = pipeline(registry, [{"id": "up", "uses": "toy.double", "enabled": False}])
    assert disabled.run(image, max_pixels=70).image.shape == image.shape


def test_timings_reported_and_array_types(registry: Registry) -> None:
    p = pipeline(registry, [{"id": "a", "uses": "toy.add", "params": {"amount": 0.0}}])
    result = p.run(np.full((4, 4), 255, np.uint8))
    assert result.image.dtype == np.float32 and result.image.shape == (4, 4, 1)
    np.testing.assert_allclose(result.image, 1.0)
    assert set(result.seconds) == {"a"} and result.seconds["a"] >= 0
    assert p.run(np.full((4, 4, 3), 65535, np.uint16)).image.max() == 1.0


def test_stage_instance_shared_and_thread_safe(registry: Registry) -> None:
    from concurrent.futures import ThreadPoolExecutor

    p = pipeline(registry, [{"id": "a", "uses": "toy.add", "params": {"amount": 0.25}}])
    Add.calls.clear()
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda v: p.run(gray_as_rgb(v)).image, [0.0, 0.1, 0.2, 0.3]))
    for value, result in zip([0.0, 0.1, 0.2, 0.3], results, strict=True):
        np.testing.assert_allclose(result, value + 0.25, atol=1e-6)
    assert len(Add.calls) == 4
    device = p.tile_options().device
    assert len({id(p.pool(Add, device)) for _ in range(3)}) == 1


def test_per_image_overrides(registry: Registry) -> None:
    p = pipeline(registry, [{"id": "a", "uses": "toy.add", "params": {"amount": 0.1}}])
    np.testing.assert_allclose(p.run(gray_as_rgb(0.2), overrides={"a": {"amount": 0.5}}).image, 0.7)
    np.testing.assert_allclose(p.run(gray_as_rgb(0.2)).image, 0.3, atol=1e-6)  # plan unchanged
    with pytest.raises(
        PipelineError, match=r"side\.yaml: node 'a' \(toy\.add\): parameter 'amount'"
    ):
        p.plan_with({"a": {"amount": 7}}, source="side.yaml")
    with pytest.raises(PipelineError, match="unknown node 'zz'"):
        p.plan_with({"zz": {"amount": 0.1}})


def test_library_result_saves_with_nothing_lost(registry: Registry, tmp_path) -> None:
    """Pipeline.run keeps alpha and bit depth; result.save writes them like the CLI."""
    from restore.io.images import read_image

    rgba = np.zeros((16, 24, 4), np.uint16)
    rgba[..., :3] = 20000
    rgba[..., 3] = np.linspace(0, 65535, 24, dtype=np.uint16)
    result = pipeline(registry, [{"id": "a", "uses": "toy.add", "params": {"amount": 0.1}}]).run(
        rgba
    )
    saved = read_image(result.save(tmp_path / "out.png"))
    assert saved.bit_depth == 16 and saved.alpha is not None
    np.testing.assert_allclose(saved.alpha, rgba[..., 3] / 65535, atol=1 / 65535)
    np.testing.assert_allclose(saved.pixels, 20000 / 65535 + 0.1, atol=1 / 65535)


def test_torch_tensors_are_images_too(registry: Registry) -> None:
    import torch

    p = pipeline(registry, [{"id": "add", "uses": "toy.add", "params": {"amount": 0.0}}])
    image = gray_as_rgb(0.4)
    for tensor in (torch.from_numpy(image).bfloat16(), torch.from_numpy(image).requires_grad_()):
        np.testing.assert_allclose(p.run(tensor).image, image, atol=2e-3)
