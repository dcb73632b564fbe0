"""Tests of the restore-colorize plugin (random weights; no training data needed)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from pydantic import ValidationError
from restore.api import Channels, StageUnavailable, TilePolicy
from restore.api.weights import read_manifest
from restore.app.cli.main import app
from restore.app.registry import Registry
from restore.engine.tiling import TileOptions, run_stage
from restore.io.images import read_image, write_image
from restore.lab.export import save_weights
from restore.lab.metrics import colourfulness, psnr
from restore.lab.training import find_recipe, train, training_recipes
from restore.testing import synthetic_photo
from skimage import color, data
from typer.testing import CliRunner

import restore_colorize
from restore_colorize import bins, hints, recipes, unet
from restore_colorize.bins import (
    annealed_mean,
    bin_centres,
    bin_count,
    confident_readout,
    reachable_bins,
    readout,
    rebalancing_weights,
    smoothed_prior,
    soft_encode,
)
from restore_colorize.global_unet import GLOBAL_CLASSIFY, GlobalColorizeConfig, GlobalColorizeNet
from restore_colorize.hints import Hint, hint_maps, sample_hints
from restore_colorize.lab import lab_to_rgb, lab_to_rgb_in_gamut, rgb_to_lab
from restore_colorize.network import ColorizeNet
from restore_colorize.spread import hint_corrections
from restore_colorize.tone import normalised_lightness, print_tones
from restore_colorize.unet import (
    ColorizeParams,
    GlobalColorize,
    GlobalColorizeParams,
    RegressionColorize,
    UNetColorize,
    lightness_of,
    recombine,
)

CPU = torch.device("cpu")
STAGES = (GlobalColorize, UNetColorize, RegressionColorize)
NAMES = {"colorize.global", "colorize.unet", "colorize.regression"}
SHIPPED = Path(restore_colorize.__file__).parent / "weights" / UNetColorize.weights_file


def astronaut() -> torch.Tensor:
    """A 1 x 3 x 64 x 64 RGB crop."""
    image = data.astronaut()[:256:4, 128:384:4] / 255
    return torch.from_numpy(image).float().permute(2, 0, 1)[None].contiguous()


def nchw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]


def install_random_weights(folder: Path, stage: type[unet.LabColorize[Any]]) -> None:
    """Untrained weights (with a manifest) of the stage's architecture, in ``folder``."""
    torch.manual_seed(0)
    head = "regress" if stage is RegressionColorize else "classify"
    recipe = {r.name: r for r in recipes.RECIPES}[stage.name]
    network = recipe.network.build(recipe.config)
    for module in network.modules():  # lively random statistics, so the output has colour
        if isinstance(module, torch.nn.BatchNorm2d) and module.running_var is not None:
            module.running_var.fill_(0.05)
    assert network.head_kind == head
    training = {"data": [], "recipe": "gray", "command": "test", "steps": 0}
    save_weights(
        network,
        folder / stage.weights_file,
        name="random",
        stage=stage.name,
        architecture=stage.network_spec.architecture,
        config=recipe.config.model_dump(mode="json"),
        version="0",
        training={**training, "seconds": 0.0, "date": "2024-01-01"},
    )


@pytest.fixture
def random_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install untrained weights of both stages in place of the missing files."""
    for stage in STAGES:
        install_random_weights(tmp_path, stage)
    monkeypatch.setattr(unet, "WEIGHTS_DIR", tmp_path)
    return tmp_path


# --- plugin, ports, parameters ------------------------------------------------------------


def test_registers_stages_and_recipes_through_the_plugin_hooks() -> None:
    registry = Registry.from_plugins(restore_colorize)
    assert not list(registry.broken())
    assert set(registry.stages) == NAMES
    assert set(training_recipes(registry)) == NAMES
    recipe = find_recipe(registry, "colorize.unet")
    assert recipe.objective is recipes.classification_objective
    assert recipe.data == ("color_photos", "CBSD432_filtered", "SunHays80_color")


def test_the_scene_recipe_trains_long_on_prints_and_selects_on_every_folder() -> None:
    recipe = find_recipe(Registry.from_plugins(restore_colorize), "colorize.global")
    assert recipe.objective is recipes.print_objective and recipe.predict is recipes.predict_global
    assert recipe.network is GLOBAL_CLASSIFY and recipe.stage == "colorize.global"
    assert recipe.data == ("color_photos", "CBSD432_filtered", "SunHays80_color")
    assert recipe.holdout >= 5 and recipe.split_by_folder and recipe.select_best
    assert recipe.reserved == 3  # the older recipes' held-out split: the benchmark's test set
    assert recipe.bf16 and not recipe.rotate and recipe.zoom[1] > 1 and recipe.gpu_scale > 1


def test_installed_entry_point_provides_the_stages() -> None:
    registry = Registry.from_entry_points({"RESTORE_PLUGINS": "colorize"})
    assert [(info.name, info.error) for info in registry.plugins if not info.skipped] == [
        ("colorize", None)
    ]
    assert set(registry.stages) == NAMES


@pytest.mark.parametrize("stage", STAGES)
def test_declares_ports_and_lowres_tiling(stage: type[unet.LabColorize[Any]]) -> None:
    assert stage.inputs["image"].channels is Channels.ANY
    assert stage.outputs["image"].channels is Channels.RGB
    assert stage.tiling.policy is TilePolicy.LOWRES
    assert stage.tiling.working_size == stage.Params().working_size == 256


@pytest.mark.parametrize(
    "bad",
    [
        {"saturation": 1},
        {"strength": -0.5},
        {"strength": 2.5},
        {"working_size": 32},
        {"hints": [{"x": 1.5, "y": 0.5, "color": "#ff0000"}]},
        {"hints": [{"x": 0.5, "y": 0.5, "color": "#ff00"}]},
        {"hints": [{"x": 0.5, "y": 0.5, "color": "red"}]},
        {"hints": [{"x": 0.5, "y": 0.5, "color": [300, 0, 0]}]},
        {"hints": [{"x": 0.5, "y": 0.5, "color": [1, 2]}]},
        {"hints": [{"x": 0.5, "y": 0.5}]},
        {"hints": [{"x": 0.5, "y": 0.5, "color": "#ff0000", "size": 3}]},
    ],
)
def test_params_reject_bad_values(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ColorizeParams(**bad)


def test_hints_accept_hex_and_rgb_colours() -> None:
    params = ColorizeParams(
        hints=[{"x": 0.1, "y": 0.9, "color": "#FF8000"}, {"x": 0, "y": 1, "color": [255, 128, 0]}]
    )
    assert [hint.color for hint in params.hints] == [(255, 128, 0), (255, 128, 0)]
    assert params.hints[0] == Hint(x=0.1, y=0.9, color=(255, 128, 0))
    hash(params)  # parameters stay immutable and hashable


@pytest.mark.parametrize("stage", STAGES)
def test_missing_weights_raise_stage_unavailable(
    stage: type[unet.LabColorize[Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unet, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(StageUnavailable) as raised:
        stage(CPU).process({"image": torch.rand(1, 1, 32, 32)}, stage.Params())
    message = str(raised.value)
    assert message == (
        f"{stage.name}: no trained weights installed (expected restore_colorize/weights/"
        f"{stage.weights_file}; make them with `restore train {stage.name} --out <that file>`)"
    )
    assert "\n" not in message


# --- LAB, gamut, recombination ------------------------------------------------------------


def test_lab_matches_scikit_image_and_round_trips() -> None:
    rgb = astronaut()
    lab = rgb_to_lab(rgb)
    expected = color.rgb2lab(rgb[0].permute(1, 2, 0).double().numpy())
    np.testing.assert_allclose(lab[0].permute(1, 2, 0).numpy(), expected, atol=2e-3)
    torch.testing.assert_close(lab_to_rgb(lab), rgb, atol=1e-4, rtol=0)
    torch.testing.assert_close(lab_to_rgb_in_gamut(lab), rgb, atol=1e-4, rtol=0)


def test_gamut_fitting_keeps_lightness_and_hue() -> None:
    lightness = torch.linspace(0, 100, 21).view(1, 1, 21, 1).expand(1, 1, 21, 8)
    angle = torch.linspace(0, 2 * np.pi, 9)[:8].view(1, 1, 1, 8)
    a, b = (
        (120 * torch.cos(angle)).expand(1, 1, 21, 8),
        (120 * torch.sin(angle)).expand(1, 1, 21, 8),
    )
    lab = torch.cat([lightness, a, b], 1)
    rgb = lab_to_rgb_in_gamut(lab)
    assert rgb.min() >= 0 and rgb.max() <= 1
    back = rgb_to_lab(rgb)
    torch.testing.assert_close(back[:, 0], lab[:, 0], atol=2e-3, rtol=0)
    chroma = back[:, 1:].norm(dim=1)
    colourful = chroma > 5
    cosine = (back[:, 1:] * lab[:, 1:]).sum(1) / (chroma * 120)
    assert colourful.sum() > 80 and (cosine[colourful] > 0.97).all()  # same hue, less chroma
    assert (rgb_to_lab(lab_to_rgb(lab))[:, 0] - lab[:, 0]).abs().max() > 5  # clipping would not


def test_recombine_in_strips_equals_whole_bilinear_upsampling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = astronaut()
    chroma = torch.randn(1, 2, 9, 13) * 20
    monkeypatch.setattr(unet, "STRIP_PIXELS", 64 * 5)  # strips of 5 rows
    out = recombine(image, chroma)
    up = F.interpolate(chroma, size=(64, 64), mode="bilinear", align_corners=False)
    expected = lab_to_rgb_in_gamut(torch.cat([lightness_of(image), up], 1))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


# --- the stage with random weights --------------------------------------------------------


@pytest.mark.usefixtures("random_weights")
@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("channels", [1, 3])
def test_outputs_rgb_of_any_size(stage: type[unet.LabColorize[Any]], channels: int) -> None:
    image = torch.rand(2, channels, 37, 50)
    out = stage(CPU).process({"image": image}, stage.Params())["image"]
    assert out.shape == (2, 3, 37, 50) and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.usefixtures("random_weights")
def test_strength_zero_keeps_the_gray_image() -> None:
    gray = astronaut().mean(1, keepdim=True)
    out = UNetColorize(CPU).process({"image": gray}, ColorizeParams(strength=0))["image"]
    torch.testing.assert_close(out, gray.expand(-1, 3, -1, -1), atol=1e-4, rtol=0)


@pytest.mark.usefixtures("random_weights")
@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("strength", [1.0, 2.0])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_lightness_is_the_input_lightness(
    stage: type[unet.LabColorize[Any]], strength: float, channels: int
) -> None:
    rng = np.random.default_rng(0)
    gray = synthetic_photo(90, 140).mean(2, keepdims=True)  # not on the 8-bit grid, like 16-bit
    gray = np.clip(gray + rng.normal(0, 0.01, gray.shape), 0, 1).astype(np.float32)
    image = gray if channels == 1 else np.repeat(gray, 3, axis=2)
    params = stage.Params(working_size=64, strength=strength)
    out = run_stage(stage(CPU), {"image": image}, params, TileOptions())["image"]
    assert out.shape == (90, 140, 3)
    lab = rgb_to_lab(nchw(out))
    assert lab[:, 1:].norm(dim=1).mean() > 1  # the random network does add colour
    expected = lightness_of(nchw(image))
    np.testing.assert_allclose(lab[:, :1].numpy(), expected.numpy(), atol=2e-3, rtol=0)


@pytest.mark.usefixtures("random_weights")
def test_network_sees_a_working_copy_with_the_working_size_as_long_side(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = []
    original = ColorizeNet.chroma

    def spy(self: ColorizeNet, lightness: torch.Tensor, *args: torch.Tensor | None) -> torch.Tensor:
        seen.append(tuple(lightness.shape[-2:]))
        return original(self, lightness, *args)

    monkeypatch.setattr(ColorizeNet, "chroma", spy)
    image = np.repeat(synthetic_photo(120, 300).mean(2, keepdims=True), 3, axis=2)
    out = run_stage(UNetColorize(CPU), {"image": image}, ColorizeParams(working_size=100))
    assert seen == [(40, 100)] and out["image"].shape == (120, 300, 3)


def fake_chroma(
    self: ColorizeNet,
    lightness: torch.Tensor,
    hint_ab: torch.Tensor | None = None,
    hint_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """A stand-in network that spreads the hints' colours over a 15 px neighbourhood."""
    if hint_ab is None:
        return torch.zeros_like(lightness).expand(-1, 2, -1, -1)
    return F.avg_pool2d(hint_ab, 15, 1, 7) * 225 / 9  # ~ the hint's a*b* near it, 0 far off


@pytest.mark.usefixtures("random_weights")
def test_hints_colour_the_output_where_they_are_placed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ColorizeNet, "chroma", fake_chroma)
    gray = np.repeat(np.full((128, 192, 1), 0.5, np.float32), 3, axis=2)
    stage = UNetColorize(CPU)
    plain = run_stage(stage, {"image": gray}, ColorizeParams(working_size=96))["image"]
    np.testing.assert_allclose(plain, gray, atol=1e-4)
    hint = {"x": 0.25, "y": 0.5, "color": "#c03020"}
    params = ColorizeParams(working_size=96, hints=[hint])
    hinted = run_stage(stage, {"image": gray}, params)["image"]
    chroma = rgb_to_lab(nchw(hinted))[0, 1:]
    near, far = chroma[:, 64, 48], chroma[:, 64, 160]
    target = rgb_to_lab(torch.tensor([0xC0, 0x30, 0x20]).view(1, 3, 1, 1) / 255)[0, 1:, 0, 0]
    assert far.norm() < 0.5 and near.norm() > 20
    assert torch.cosine_similarity(near, target, dim=0) > 0.99  # the hint's hue


@pytest.mark.usefixtures("random_weights")
def test_hints_reach_the_stage_from_an_image_sidecar(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`<stem>.restore.yaml` beside a photo gives that photo (only) its colour hints."""

    def scene_chroma(self, lightness, hint_ab=None, hint_mask=None, *readout):
        return fake_chroma(self, lightness, hint_ab, hint_mask)  # colorize.yaml's network

    monkeypatch.setattr(GlobalColorizeNet, "chroma", scene_chroma)
    photos, out = tmp_path / "photos", tmp_path / "out"
    for name in ("hinted", "plain"):
        write_image(photos / f"{name}.png", np.full((128, 192, 1), 0.5, np.float32))
    (photos / "hinted.restore.yaml").write_text(
        "colorize:\n  working_size: 96\n  hints: [{x: 0.25, y: 0.5, color: '#c03020'}]\n"
    )
    pipeline = Path(__file__).parents[3] / "examples" / "pipelines" / "colorize.yaml"
    result = CliRunner().invoke(app, [str(pipeline), str(photos), "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    hinted, plain = (read_image(out / f"{name}.png").pixels for name in ("hinted", "plain"))
    red, green, blue = hinted[64, 48]
    assert red > green + 0.1 and red > blue + 0.1 and np.ptp(hinted[64, 160]) < 0.01
    assert np.ptp(plain, axis=2).max() < 0.01  # no sidecar, no hints: still neutral


def test_a_few_training_steps_with_hints_make_the_network_follow_them() -> None:
    """The hint channels are wired so that training teaches the network to follow them."""
    torch.manual_seed(0)
    network = ColorizeNet("regress", widths=(8, 8, 16, 16, 16))
    lightness = 50 + 20 * torch.rand(1, 1, 32, 32).expand(2, -1, -1, -1)  # the same gray image
    ab = torch.tensor([[40.0, 20.0], [-40.0, 20.0]]).view(2, 2, 1, 1).expand(-1, -1, 32, 32)
    centre = torch.zeros(2, 1, 32, 32)
    centre[:, :, 16, 16] = 1
    hint_ab, hint_mask = hints.paint(centre, ab)  # ... hinted red in one, green in the other
    optimiser = torch.optim.Adam(network.parameters(), lr=3e-3)
    for _ in range(40):
        x = network.inputs(lightness, hint_ab, hint_mask)
        up = F.interpolate(network(x), size=(32, 32), mode="bilinear", align_corners=False)
        loss = F.mse_loss(up, ab / 110)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():  # (batch statistics: 40 steps are too few for the running ones)
        kept = network.chroma(lightness, hint_ab, hint_mask)[:, 0].mean((-2, -1))
        swapped = network.chroma(lightness, hint_ab.flip(0), hint_mask)[:, 0].mean((-2, -1))
    assert kept[0] - kept[1] > 30  # follows the hints ...
    assert swapped[1] - swapped[0] > 30  # ... and nothing else: swapped hints swap the colours


def two_regions_with_a_hint() -> tuple[np.ndarray, ...]:
    """L* 30 on the left, 80 on the right (64 x 96), one hint of a*b* (40, -20) at the left."""
    lightness = np.full((64, 96), 30.0, np.float32)
    lightness[:, 48:] = 80
    hint = Hint(x=0.2, y=0.5, color="#000000")
    _, mask = hint_maps([hint], 1, 64, 96, "cpu")
    assert mask is not None
    hint_ab = np.zeros((2, 64, 96), np.float32)
    hint_ab[:, mask[0, 0].numpy() > 0] = np.array([[40.0], [-20.0]], np.float32)
    return lightness, hint_ab, mask[0, 0].numpy()


def test_hint_corrections_fills_the_region_and_stops_at_edges() -> None:
    lightness, hint_ab, mask = two_regions_with_a_hint()
    predicted = np.zeros((2, 64, 96), np.float32)
    spread = predicted + hint_corrections(lightness, predicted, hint_ab, mask, reach=0.3)
    assert spread.shape == predicted.shape and spread.dtype == np.float32
    np.testing.assert_allclose(spread[:, 32, 19], [40, -20], rtol=0.02)  # at the hint
    left, right = np.linalg.norm(spread[:, 32, 40]), np.linalg.norm(spread[:, 32, 56])
    assert left > 0.7 * np.hypot(40, 20) and right < 0.1 * left  # a strong edge stops it
    nearer = hint_corrections(lightness, predicted, hint_ab, mask, reach=0.05)
    assert np.linalg.norm(nearer[:, 32, 40]) < 0.5 * left  # a shorter reach fades sooner


def test_hint_corrections_corrects_the_prediction_towards_the_hint() -> None:
    lightness, hint_ab, mask = two_regions_with_a_hint()
    predicted = np.stack([np.full((64, 96), 10.0), np.full((64, 96), 5.0)]).astype(np.float32)
    spread = predicted + hint_corrections(lightness, predicted, hint_ab, mask, reach=0.3)
    np.testing.assert_allclose(spread[:, 32, 19], [40, -20], rtol=0.02)
    np.testing.assert_allclose(spread[:, 5, 90], [10, 5], atol=0.5)  # far, across the edge


@pytest.mark.usefixtures("random_weights")
def test_hints_are_followed_even_by_a_network_that_ignores_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def ignores_hints(self: ColorizeNet, lightness: torch.Tensor, *hints: object) -> torch.Tensor:
        return torch.zeros_like(lightness).expand(-1, 2, -1, -1)

    monkeypatch.setattr(ColorizeNet, "chroma", ignores_hints)
    gray = np.repeat(np.full((128, 192, 1), 0.5, np.float32), 3, axis=2)
    stage = UNetColorize(CPU)
    hint = {"x": 0.25, "y": 0.5, "color": "#c03020"}
    results = [
        run_stage(stage, {"image": gray}, ColorizeParams(working_size=96, hints=[hint], **extra))
        for extra in ({"hint_reach": 0}, {})
    ]
    network_only, spread = (rgb_to_lab(nchw(r["image"]))[0, 1:] for r in results)
    target = rgb_to_lab(torch.tensor([0xC0, 0x30, 0x20]).view(1, 3, 1, 1) / 255)[0, 1:, 0, 0]
    assert network_only.abs().max() < 0.5  # hint_reach 0: only the network, which ignores them
    assert torch.cosine_similarity(spread[:, 64, 48], target, dim=0) > 0.99
    assert spread[:, 64, 48].norm() > 0.9 * target.norm() and spread[:, 64, 96].norm() > 10
    grids = []

    def recorded(lightness: np.ndarray, *args: object) -> np.ndarray:
        grids.append(lightness.shape)
        return hint_corrections(lightness, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(unet, "hint_corrections", recorded)
    big = np.repeat(np.full((384, 576, 1), 0.5, np.float32), 3, axis=2)
    large = ColorizeParams(working_size=512, hints=[hint])
    upsampled = rgb_to_lab(nchw(run_stage(stage, {"image": big}, large)["image"]))[0, 1:]
    assert grids == [(85, 128)]  # the 341 x 512 working copy, solved on a smaller grid
    assert torch.cosine_similarity(upsampled[:, 192, 144], target, dim=0) > 0.99
    assert upsampled[:, 192, 144].norm() > 0.8 * target.norm()


def test_hint_maps_paint_squares_of_the_hint_colour() -> None:
    hint = Hint(x=0.5, y=0.25, color="#2060c0")
    hint_ab, mask = hint_maps([hint], 1, 40, 60, "cpu")
    assert hint_ab is not None and mask is not None
    assert mask.sum() == 9 and mask[0, 0, 9:12, 29:32].all()
    expected = rgb_to_lab(torch.tensor([0x20, 0x60, 0xC0]).view(1, 3, 1, 1) / 255)[0, 1:, 0, 0]
    torch.testing.assert_close(hint_ab[0, :, 10, 30], expected, atol=1e-4, rtol=0)
    assert hint_ab[0, :, 0, 0].abs().max() == 0
    assert hint_maps([], 1, 40, 60, "cpu") == (None, None)


def test_training_hints_are_sampled_from_the_truth() -> None:
    torch.manual_seed(0)
    ab = torch.randn(64, 2, 24, 24) * 30
    hint_ab, mask = sample_hints(ab)
    per_image = mask.sum((1, 2, 3))
    assert 0.3 < (per_image == 0).float().mean() < 0.7  # often no hints
    assert per_image.max() <= 9 * 20
    n, y, x = torch.nonzero(mask[:, 0])[0].tolist()
    assert hint_ab[n, :, y, x].abs().sum() > 0
    counts = hints.hint_counts(10_000)
    assert counts.max() == 20 and counts.min() == 0


# --- bins, readout, rebalancing -----------------------------------------------------------


def test_bins_are_the_in_gamut_cells_of_a_10_unit_grid() -> None:
    centres = bin_centres()
    assert bin_count() == len(centres) == 261
    assert centres.abs().max() <= 110 and (centres % 10 == 0).all()
    np.testing.assert_array_equal(reachable_bins(48), centres.numpy())
    gray = torch.zeros(1, 2, 1, 1)
    assert (bins.nearest_bin(gray, centres) == int((centres.abs().sum(1) == 0).nonzero())).all()


def test_annealed_mean_of_one_hot_is_the_bin_centre_and_low_temperature_is_the_mode() -> None:
    centres = bin_centres()
    one_hot = torch.zeros(1, len(centres), 1, 1)
    one_hot[0, 100] = 1
    torch.testing.assert_close(annealed_mean(one_hot, centres)[0, :, 0, 0], centres[100])
    generator = torch.Generator().manual_seed(1)
    probabilities = torch.softmax(torch.randn(1, len(centres), 1, 1, generator=generator), 1)
    probabilities[0, 50] += 0.1  # a clear mode
    probabilities /= probabilities.sum(1, keepdim=True)
    mode = centres[probabilities[0, :, 0, 0].argmax()]
    cold = annealed_mean(probabilities, centres, temperature=0.01)[0, :, 0, 0]
    torch.testing.assert_close(cold, mode, atol=1e-2, rtol=0)
    mean = (probabilities[0, :, 0, 0, None] * centres).sum(0)
    torch.testing.assert_close(annealed_mean(probabilities, centres, 1.0)[0, :, 0, 0], mean)
    logits = probabilities.log()
    torch.testing.assert_close(readout(logits, centres), annealed_mean(probabilities, centres))


def test_soft_encoding_spreads_over_the_five_nearest_bins() -> None:
    centres = bin_centres()
    ab = torch.tensor([[12.0, -31.0], [0.0, 0.0]]).T.reshape(1, 2, 1, 2)
    target = soft_encode(ab, centres)
    torch.testing.assert_close(target.sum(1), torch.ones(1, 1, 2))
    assert ((target > 0).sum(1) == 5).all()
    peak = centres[target[0, :, 0, 0].argmax()]
    assert peak.tolist() == [10.0, -30.0]


def test_rebalancing_weights_have_expected_value_one_and_favour_rare_colours() -> None:
    centres = bin_centres()
    counts = torch.zeros(len(centres))
    near_gray = centres.norm(dim=1) < 25
    counts[near_gray] = 1000.0
    counts[~near_gray] = 1.0
    weights = rebalancing_weights(counts, centres)
    prior = smoothed_prior(counts, centres)
    torch.testing.assert_close((prior * weights).sum().float(), torch.tensor(1.0))
    assert torch.isclose(prior.sum(), torch.tensor(1.0, dtype=prior.dtype))
    assert weights[~near_gray].mean() > 3 * weights[near_gray].mean()
    assert (rebalancing_weights(torch.zeros(len(centres)), centres) == 1).all()


# --- the scene colorizer: global context, confident readout, tone invariance -------------


def lively(network: torch.nn.Module) -> torch.nn.Module:
    """Random batch-norm statistics and FiLM weights, so the untrained network has colour
    and its global branch has an effect (FiLM starts at zero)."""
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d) and module.running_var is not None:
            module.running_var.fill_(0.05)
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.3)
    return network


def test_the_scene_network_sees_the_whole_image_so_it_never_runs_in_tiles() -> None:
    torch.manual_seed(0)
    config = GlobalColorizeConfig(widths=(8, 8, 16, 16, 16), features=16)
    network = GLOBAL_CLASSIFY.build(config).eval()
    x = torch.rand(1, 4, 256, 256)
    far = x.clone()
    far[..., :32, -32:] = torch.rand(1, 4, 32, 32)  # change the top right corner only

    def corner_change() -> float:
        with torch.no_grad():
            return float((network(far) - network(x))[..., -8:, :8].abs().max())

    assert corner_change() == 0  # FiLM starts at zero: a U-Net, finite receptive field
    lively(network)
    assert corner_change() > 1e-3  # the global branch carries the far corner everywhere
    assert network(x).shape == (1, bin_count(), 64, 64)
    assert GLOBAL_CLASSIFY.halo(config) == 0 and GlobalColorize.tiling.policy is TilePolicy.LOWRES
    with pytest.raises(ValueError, match="global context"):
        GLOBAL_CLASSIFY.tiling(config, TilePolicy.TILE)


@pytest.mark.usefixtures("random_weights")
def test_the_scene_stage_runs_the_network_once_on_the_whole_working_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = []
    original = GlobalColorizeNet.chroma

    def spy(self: GlobalColorizeNet, lightness: torch.Tensor, *args: Any) -> torch.Tensor:
        seen.append(tuple(lightness.shape[-2:]))
        return original(self, lightness, *args)

    monkeypatch.setattr(GlobalColorizeNet, "chroma", spy)
    image = np.repeat(synthetic_photo(240, 600).mean(2, keepdims=True), 3, axis=2)
    tiny_tiles = TileOptions(tile=64, overlap=8)  # a --tile option does not cut it up
    out = run_stage(GlobalColorize(CPU), {"image": image}, GlobalColorizeParams(), tiny_tiles)
    assert seen == [(102, 256)] and out["image"].shape == (240, 600, 3)


def logits_of(*colours: tuple[float, float], width: float = 4.0) -> torch.Tensor:
    """1 x Q x 1 x 1 logits of a distribution with equal modes at the given a*b*."""
    centres = bin_centres()
    distances = torch.stack([(centres - torch.tensor(c)).pow(2).sum(1) for c in colours])
    return torch.logsumexp(-distances / (2 * width**2), 0).view(1, -1, 1, 1)


def test_confident_readout_falls_back_where_the_colour_distribution_is_wide() -> None:
    centres = bin_centres()
    blue_or_green = logits_of((10, -60), (-60, 50))  # the blotch case: a saturated guess
    orange = logits_of((30, 50))
    guess = readout(blue_or_green, centres)[0, :, 0, 0]
    assert guess.norm() > 10
    assert confident_readout(blue_or_green, centres, 35)[0, :, 0, 0].norm() < 2
    sure = confident_readout(orange, centres, 35)[0, :, 0, 0]
    torch.testing.assert_close(sure, readout(orange, centres)[0, :, 0, 0], atol=0.5, rtol=0)
    torch.testing.assert_close(
        confident_readout(blue_or_green, centres, 0), readout(blue_or_green, centres)
    )
    scene = confident_readout(torch.cat([orange, blue_or_green], 3), centres, 35, "scene")
    towards = scene[0, :, 0, 1]  # the unsure pixel takes the confident one's colour
    assert (
        torch.cosine_similarity(towards, sure, dim=0) > 0.99 and towards.norm() > 0.8 * sure.norm()
    )
    assert (
        bins.spread(orange, centres).item() < 10 < 50 < bins.spread(blue_or_green, centres).item()
    )


@pytest.fixture
def no_cue_network(random_weights: Path) -> GlobalColorizeNet:
    """The shipped-to-be network as one that has learnt nothing from L*: everywhere the same
    wide distribution, leaning to blue-green (what gives blotches on plain walls)."""
    network = GlobalColorize(CPU)._network(None)
    assert isinstance(network, GlobalColorizeNet)
    centres = bin_centres()
    with torch.no_grad():
        torch.nn.init.zeros_(network.head.weight)
        prior = -(centres - torch.tensor([-20.0, -20.0])).pow(2).sum(1) / 4050
        network.head.bias = torch.nn.Parameter(prior)
    return network


@pytest.mark.parametrize("content", ["flat", "noise"])
def test_an_input_without_cues_stays_near_neutral(
    no_cue_network: GlobalColorizeNet, content: str
) -> None:
    rng = np.random.default_rng(0)
    gray = np.full((96, 128, 1), 0.6, np.float32) if content == "flat" else rng.random((96, 128, 1))
    image = np.repeat(gray.astype(np.float32), 3, axis=2)
    stage = GlobalColorize(CPU)
    chroma = {}
    for limit in (GlobalColorizeParams().spread_limit, 0):
        out = run_stage(stage, {"image": image}, GlobalColorizeParams(spread_limit=limit))
        chroma[limit] = float(rgb_to_lab(nchw(out["image"]))[0, 1:].norm(dim=0).mean())
    assert chroma[0] > 15  # the plain annealed mean picks a saturated blue-green ...
    assert chroma[GlobalColorizeParams().spread_limit] < 3  # ... the default falls back to gray


def toned(
    gray: np.ndarray, strength: float = 0.9, black: float = 0.08, white: float = 0.9
) -> np.ndarray:
    """A gray image (H x W x 1) as a faded sepia print (the ``print_like`` toning)."""
    faded = black + (white - black) * gray
    gamma = 1 + strength * np.array([-0.15, 0.0, 0.35], np.float32)
    paper = 1 - strength * np.array([0.0, 0.03, 0.1], np.float32)
    return (faded**gamma * paper).astype(np.float32)


def test_normalised_lightness_does_not_depend_on_the_tone() -> None:
    rgb = astronaut()
    gray = (rgb * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    base = normalised_lightness(lightness_of(gray))
    sepia = toned(gray[0].permute(1, 2, 0).numpy())
    variants = {"sepia, faded": nchw(sepia), "faded": 0.1 + 0.8 * gray, "darker": gray**1.3}
    for name, variant in variants.items():
        raw = (lightness_of(variant) - lightness_of(gray)).abs().mean()
        difference = (normalised_lightness(lightness_of(variant)) - base).abs().mean()
        assert raw > 2 and difference < 0.4, name
    flat = normalised_lightness(torch.full((1, 1, 8, 8), 70.0))  # no range to stretch
    torch.testing.assert_close(flat, torch.full_like(flat, 48.34), atol=0.01, rtol=0)


@pytest.mark.usefixtures("random_weights")
def test_a_sepia_print_and_a_gray_one_get_the_same_colours(monkeypatch: pytest.MonkeyPatch) -> None:
    lively(GlobalColorize(CPU)._network(None))
    photo = synthetic_photo(96, 128, seed=3)
    gray = photo @ np.array([0.299, 0.587, 0.114], np.float32)
    prints = {"gray": np.repeat(gray[..., None], 3, axis=2), "sepia": toned(gray[..., None])}
    stage = GlobalColorize(CPU)

    def colours(spread_limit: float = 0, **extra: float) -> dict[str, torch.Tensor]:
        params = GlobalColorizeParams(working_size=64, spread_limit=spread_limit, **extra)
        return {
            name: rgb_to_lab(nchw(run_stage(stage, {"image": image}, params)["image"]))[0, 1:]
            for name, image in prints.items()
        }

    normalised = colours()
    assert normalised["gray"].norm(dim=0).mean() > 5  # the random network does add colour
    shift = (normalised["sepia"] - normalised["gray"]).norm(dim=0).mean()
    with monkeypatch.context() as patch:  # the raw L* instead: the tone changes the colours
        patch.setattr(GlobalColorize, "seen_lightness", lambda self, lightness: lightness)
        raw = colours()
    assert shift < 1.5 and shift < 0.25 * (raw["sepia"] - raw["gray"]).norm(dim=0).mean()
    kept = colours(keep_tone=1.0)
    tone = rgb_to_lab(nchw(prints["sepia"]))[0, 1:]
    assert float(tone[1].mean()) > 10  # sepia: yellow-brown (b* > 0)
    lift = (kept["sepia"] - normalised["sepia"])[1].mean()
    assert lift > 0.5 * float(tone[1].mean())  # keep_tone 1: the sepia stays under the colour
    torch.testing.assert_close(kept["gray"], normalised["gray"], atol=0.05, rtol=0)


def test_print_tones_are_random_old_prints_of_the_photo() -> None:
    torch.manual_seed(0)
    rgb = astronaut().expand(64, -1, -1, -1)
    prints = print_tones(rgb)
    assert prints.shape == rgb.shape and prints.min() >= 0 and prints.max() <= 1
    plain = (rgb * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    untouched = (prints - plain).abs().amax((1, 2, 3)) < 1e-6
    tinted = (prints[:, 0] - prints[:, 2]).abs().mean((1, 2)) > 0.02
    assert 5 < int(untouched.sum()) < 30 and int(tinted.sum()) > 20
    torch.manual_seed(0)
    torch.testing.assert_close(print_tones(rgb), prints)  # seeded: a resumed run repeats them


# --- objectives and training --------------------------------------------------------------


@pytest.mark.parametrize("recipe", recipes.RECIPES, ids=lambda r: r.name)
def test_objective_runs_a_backward_pass(recipe: recipes.TrainingRecipe) -> None:
    torch.manual_seed(0)
    network = recipe.network.build(recipe.config)
    assert isinstance(network, ColorizeNet | GlobalColorizeNet)
    clean = torch.rand(2, 3, 32, 32)
    degraded = lightness_of(clean).expand(-1, 3, -1, -1) / 100
    assert recipe.objective is not None
    loss = recipe.objective(network, degraded, clean)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in network.parameters())
    if recipe.name != "colorize.regression":
        assert int(network.prior_batches) == 1 and network.prior_counts.sum() == 2 * 8 * 8
    restored = recipe.predict(network.eval(), degraded)
    assert restored.shape == clean.shape


@pytest.mark.parametrize("recipe", recipes.RECIPES, ids=lambda r: r.name)
def test_train_runs_two_steps_on_synthetic_photos(
    recipe: recipes.TrainingRecipe, tmp_path: Path
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    # the global branch batch-normalises maps 1/64 of the patch: 128 px keeps 2 x 2 of them
    patch = 128 if recipe.name == "colorize.global" else 32
    for seed in range(6):
        write_image(folder / f"{seed}.png", synthetic_photo(patch + 16, patch + 32, seed=seed))
    small = dataclasses.replace(recipe, patch=patch, batch=2, holdout=50, validation_size=patch)
    out = tmp_path / "weights" / "w.safetensors"
    out.parent.mkdir()
    manifest = train(small, out, data_root=tmp_path, folders=[folder], steps=2, evaluations=1)
    assert manifest.stage == recipe.name and manifest.training.steps == 2
    assert (
        read_manifest(out).architecture
        == {
            "colorize.global": "colorize-global-unet",
            "colorize.unet": "colorize-unet-classify",
            "colorize.regression": "colorize-unet-regress",
        }[recipe.name]
    )
    stage = {s.name: s for s in STAGES}[recipe.name]
    network, _ = unet.load_network(stage.network_spec, out, device=CPU, stage=stage.name)
    assert isinstance(network, ColorizeNet | GlobalColorizeNet)


# --- the shipped weights ------------------------------------------------------------------


@pytest.mark.skipif(not SHIPPED.is_file(), reason="colorize-unet weights are not trained yet")
def test_shipped_weights_colour_gray_photos_plausibly() -> None:
    stage = UNetColorize(CPU)
    scores = []
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        original = getattr(data, name)()[::2, ::2].astype(np.float32) / 255
        gray = np.repeat(color.rgb2gray(original)[..., None], 3, axis=2).astype(np.float32)
        out = run_stage(stage, {"image": gray}, ColorizeParams())["image"]
        scores.append(
            (
                colourfulness(out) / colourfulness(original),
                psnr(out, original) - psnr(gray, original),
            )
        )
    fraction, gain = np.mean(scores, axis=0)
    assert fraction > 0.3  # vivid, not washed out
    assert gain > -1.5  # and not wildly wrong


@pytest.mark.usefixtures("random_weights")
def test_a_lower_temperature_reads_out_more_vivid_colours() -> None:
    photo = synthetic_photo(64, 96, seed=5)
    gray = np.repeat((photo @ np.array([0.299, 0.587, 0.114], np.float32))[..., None], 3, axis=2)
    stage = GlobalColorize(CPU)

    def mean_chroma(temperature: float) -> float:
        params = GlobalColorizeParams(working_size=64, spread_limit=0, temperature=temperature)
        out = run_stage(stage, {"image": gray}, params)["image"]
        return float(rgb_to_lab(nchw(out))[0, 1:].norm(dim=0).mean())

    chroma = {t: mean_chroma(t) for t in (1.0, GlobalColorizeParams().temperature, 0.1)}
    assert chroma[1.0] < chroma[GlobalColorizeParams().temperature] < chroma[0.1]
