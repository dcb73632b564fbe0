"""The training toolkit: data split, patch sampling, the loop, exact resume, export, CLI."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn
from typer.testing import CliRunner, Result

from restore.api.errors import RestoreError
from restore.api.network import NetworkConfig, NetworkSpec
from restore.api.weights import load_weights
from restore.app.cli.main import app
from restore.io.images import write_image
from restore.lab import training
from restore.lab.adversarial import Adversarial, Critic, relativistic_losses
from restore.lab.training import (
    ImageBank,
    TrainingRecipe,
    device_schedule,
    held_out,
    image_split,
    log_mse,
    mse,
    train,
    training_device,
    training_pair,
)
from restore.testing import synthetic_photo


class TinyConfig(NetworkConfig):
    channels: int = 1


def tiny_net(config: TinyConfig) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(config.channels, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 1, 3, padding=1)
    )


TINY = NetworkSpec("Tiny", TinyConfig, tiny_net, receptive_radius=lambda config: 2)

RECIPE = TrainingRecipe(
    name="toy.tiny-gray",
    stage="toy.tiny",
    network=TINY,
    config=TinyConfig(),
    degradation="noise-25",
    channels=1,
    data=("photos",),
    patch=24,
    batch=4,
    steps=6,
    holdout=30,
)


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    for seed in range(30):  # at 5 % held out (the real recipes), p26 is the validation image
        write_image(tmp_path / "photos" / f"p{seed:02d}.png", synthetic_photo(72, 80, seed=seed))
    return tmp_path


def test_holdout_split_is_stable_and_disjoint(data_root: Path) -> None:
    folder = [data_root / "photos"]
    train_bank = ImageBank(folder, 1, split="train", holdout=30, minimum=24)
    validation = ImageBank(folder, 1, split="validation", holdout=30, minimum=16)
    assert len(train_bank.images) + len(validation.images) == 30
    assert validation.images and train_bank.images
    assert held_out(Path("a/b.png"), 30) == held_out(Path("a/b.png"), 30)
    assert sum(held_out(Path(f"{i}.png"), 30) for i in range(1000)) in range(250, 350)


def test_log_mse_is_mean_psnr_and_lifts_lightly_degraded_samples() -> None:
    clean = torch.zeros(2, 1, 8, 8)
    restored = torch.cat([torch.full((1, 1, 8, 8), 0.01), torch.full((1, 1, 8, 8), 0.2)])
    restored.requires_grad_(True)
    floor = (1 / 255) ** 2
    expected = 1e-3 * (math.log(0.01**2 + floor) + math.log(0.2**2 + floor)) / 2
    loss = log_mse(restored, clean)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    light, heavy = restored.grad[0].abs().sum(), restored.grad[1].abs().sum()
    assert light > heavy  # under MSE the heavily degraded sample's gradient is 20x larger
    restored.grad = None
    mse(restored, clean).backward()
    assert restored.grad[1].abs().sum() == pytest.approx(20 * restored.grad[0].abs().sum())


def test_patches_are_crops_of_the_images(data_root: Path) -> None:
    bank = ImageBank([data_root / "photos"], 3, split="train", holdout=0, minimum=24)
    patches = bank.patches(np.random.default_rng(0), 5, 24)
    assert patches.shape == (5, 24, 24, 3) and patches.dtype == np.float32
    assert patches.min() >= 0 and patches.max() <= 1


def test_trains_and_exports_verified_weights(data_root: Path) -> None:
    out = data_root / "weights" / "tiny.safetensors"
    out.parent.mkdir()
    seen: list[tuple[int, float | None]] = []
    manifest = train(
        RECIPE,
        out,
        data_root=data_root,
        command="restore train toy",
        evaluations=2,
        report=lambda step, total, loss, psnr: seen.append((step, psnr)),
    )
    assert [step for step, _ in seen] == [1, 2, 3, 4, 5, 6]
    assert [step for step, psnr in seen if psnr is not None] == [3, 6]
    state, loaded = load_weights(out, expect_stage="toy.tiny", expect_architecture="Tiny")
    assert loaded == manifest and set(state) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    assert manifest.training.command == "restore train toy" and manifest.training.steps == 6
    assert manifest.training.data == ["$RESTORE_DATA/photos"]  # not this machine's path
    assert manifest.quality["validation_psnr"] > 10
    assert not out.with_suffix(".ckpt").exists()


@pytest.mark.parametrize("native", [True, False])
def test_bf16_recipe_trains_under_autocast_where_native_and_exports_float32(
    data_root: Path, monkeypatch: pytest.MonkeyPatch, native: bool
) -> None:
    """Autocast only where the device runs bfloat16 natively: emulated, it is many times
    slower than float32."""
    monkeypatch.setattr(training, "native_bf16", lambda device: native)
    seen: set[torch.dtype] = set()

    def watched(config: TinyConfig) -> nn.Module:
        net = tiny_net(config)
        net[0].register_forward_hook(lambda module, args, output: seen.add(output.dtype))
        return net

    recipe = dataclasses.replace(
        RECIPE, network=dataclasses.replace(TINY, build=watched), bf16=True
    )
    out = data_root / "bf16.safetensors"
    manifest = train(recipe, out, data_root=data_root, evaluations=1)
    # training steps, then float32 validation
    assert seen == ({torch.bfloat16, torch.float32} if native else {torch.float32})
    assert {tensor.dtype for tensor in load_file(out).values()} == {torch.float32}
    assert manifest.quality["validation_psnr"] > 10


def test_clip_bounds_the_gradient(data_root: Path) -> None:
    torch.manual_seed(0)
    initial = tiny_net(TinyConfig()).state_dict()
    moved = {}
    for clip in (None, 1e-12):
        out = data_root / f"clip-{clip}.safetensors"
        train(dataclasses.replace(RECIPE, clip=clip), out, data_root=data_root, evaluations=1)
        trained = load_file(out)
        moved[clip] = max(float((trained[k] - initial[k]).abs().max()) for k in initial)
    assert moved[None] > 1e-3 and moved[1e-12] < 1e-5  # Adam's steps shrink to lr * g / eps


def test_resume_continues_exactly(data_root: Path) -> None:
    straight = data_root / "straight.safetensors"
    train(RECIPE, straight, data_root=data_root, evaluations=2)

    interrupted = data_root / "resumed.safetensors"

    def crash(step: int, total: int, loss: float, psnr: float | None) -> None:
        if step == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(RECIPE, interrupted, data_root=data_root, evaluations=2, report=crash)
    assert interrupted.with_suffix(".ckpt").exists()  # saved at step 3
    train(RECIPE, interrupted, data_root=data_root, evaluations=2, resume=True)
    a, b = load_file(straight), load_file(interrupted)
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_missing_data_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="training data folder not found"):
        train(RECIPE, tmp_path / "x.safetensors", data_root=tmp_path)


def test_train_command(data_root: Path) -> None:
    out = data_root / "dncnn.safetensors"
    result = CliRunner().invoke(
        app,
        [
            "train",
            "denoise.dncnn-gray",
            "--data",
            str(data_root / "photos"),
            "--steps",
            "2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["stage"] == "denoise.dncnn" and manifest["architecture"] == "DnCNN-RB-S2"
    assert manifest["training"]["command"] == (
        f"restore train denoise.dncnn-gray --out {out} --data {data_root / 'photos'} --steps 2"
    )
    unknown = CliRunner().invoke(app, ["train", "nope", "--out", str(out)])
    assert unknown.exit_code == 2 and "unknown training recipe 'nope'" in unknown.output
    args = ["train", "denoise.dncnn-gray", "--out", str(out), "--device", "tpu"]
    device = CliRunner().invoke(app, args)
    assert device.exit_code == 2 and "--device must be auto, cpu or cuda" in device.output


CRACKS = "steps:\n  - {kind: cracks, count: [2, 4], width: [1, 3]}\n"


def test_pairs_give_the_damage_mask_as_target_or_as_input(data_root: Path) -> None:
    from restore.lab.degrade import load_recipe

    (data_root / "cracks.yaml").write_text(CRACKS)
    cracks = load_recipe(data_root / "cracks.yaml", data_root)
    clean = synthetic_photo(40, 48, seed=4)
    detector = replace(RECIPE, target="mask", channels=3)
    inputs, target = training_pair(detector, cracks, clean, np.random.default_rng(7))
    expected = cracks.apply(clean, np.random.default_rng(7))
    np.testing.assert_array_equal(inputs, expected.image)
    np.testing.assert_array_equal(target[..., 0], expected.mask)
    assert target.max() == 1  # the recipe drew damage
    inpainter = replace(RECIPE, mask_input=True, channels=3)
    inputs, target = training_pair(inpainter, cracks, clean, np.random.default_rng(7))
    np.testing.assert_array_equal(inputs[..., :3], expected.image)
    np.testing.assert_array_equal(inputs[..., 3], expected.mask)
    np.testing.assert_array_equal(target, clean)
    steered = replace(RECIPE, channels=3, condition=lambda degraded: len(degraded.steps) / 4)
    inputs, target = training_pair(steered, cracks, clean, np.random.default_rng(7))
    np.testing.assert_array_equal(inputs[..., :3], expected.image)
    assert inputs.shape[2] == 4 and np.all(inputs[..., 3] == 0.25)  # one step sampled


def test_a_detector_is_validated_by_f1(data_root: Path) -> None:
    (data_root / "cracks.yaml").write_text(CRACKS)
    detector = replace(
        RECIPE,
        target="mask",
        degradation=str(data_root / "cracks.yaml"),
        predict=lambda model, x: torch.sigmoid(model(x)),
        loss=torch.nn.functional.binary_cross_entropy,
    )
    out = data_root / "detector.safetensors"
    manifest = train(detector, out, data_root=data_root, evaluations=1)
    assert set(manifest.quality) == {"validation_f1"}
    assert 0 <= manifest.quality["validation_f1"] <= 1


def test_hard_negatives_replace_the_damage_for_their_share(data_root: Path) -> None:
    from restore.lab.degrade import load_recipe

    (data_root / "cracks.yaml").write_text(CRACKS)
    cracks = load_recipe(data_root / "cracks.yaml", data_root)
    gray = load_recipe("gray", data_root)
    clean = synthetic_photo(40, 48, seed=5)
    always = replace(RECIPE, target="mask", channels=3, negative_fraction=1.0)
    inputs, target = training_pair(always, cracks, clean, np.random.default_rng(1), gray)
    np.testing.assert_array_equal(inputs, gray.apply(clean, np.random.default_rng(1)).image)
    assert target.max() == 0  # a negative has nothing to find
    half = replace(always, negative_fraction=0.5)
    rng = np.random.default_rng(2)
    damaged = [training_pair(half, cracks, clean, rng, gray)[1].max() > 0 for _ in range(40)]
    assert 10 < sum(damaged) < 30


def test_a_split_by_folder_validates_on_every_folder_and_reserves_a_test_split(
    tmp_path: Path,
) -> None:
    for folder, count in (("big", 60), ("small", 7)):
        for k in range(count):
            write_image(tmp_path / folder / f"{k}.png", np.zeros((8, 8, 1), np.float32))
    plain = image_split(tmp_path, 5)
    assert all((which == "validation") == held_out(r, 5) for r, which in plain.items())
    split = image_split(tmp_path, 5, by_folder=True, reserved=10)
    for folder, count in (("big", 60), ("small", 7)):
        mine = {r: which for r, which in split.items() if r.parent.name == folder}
        assert sum(which == "validation" for which in mine.values()) == math.ceil(count * 0.05)
        assert {r for r, which in mine.items() if which == "test"} == {
            r for r in mine if held_out(r, 10)
        }
    assert image_split(tmp_path, 5, by_folder=True, reserved=10) == split  # stable


def test_patches_without_rotation_and_with_zoom(data_root: Path) -> None:
    bank = ImageBank([data_root / "photos"], 3, split="train", holdout=0, minimum=24)
    crops = bank.patches(np.random.default_rng(0), 6, 24, rotate=False)
    assert all(  # an unrotated patch is a crop of an image (perhaps mirrored)
        any(_contains(image, patch) or _contains(image, patch[:, ::-1]) for image in bank.images)
        for patch in np.round(crops * 255).astype(np.uint8)
    )
    zoomed = bank.patches(np.random.default_rng(0), 6, 24, rotate=False, zoom=(2.0, 3.0))
    assert zoomed.shape == (6, 24, 24, 3) and zoomed.min() >= 0 and zoomed.max() <= 1


def _contains(image: np.ndarray, patch: np.ndarray) -> bool:
    size = patch.shape[0]
    return any(
        np.array_equal(image[y : y + size, x : x + size], patch)
        for y in range(image.shape[0] - size + 1)
        for x in range(image.shape[1] - size + 1)
    )


def test_select_best_exports_the_best_evaluated_state(data_root: Path) -> None:
    scores: dict[int, float] = {}
    recipe = replace(RECIPE, select_best=True, lr=0.05)  # large steps: the score moves
    out = data_root / "best.safetensors"

    def seen(step: int, total: int, loss: float, score: float | None) -> None:
        if score is not None:
            scores[step] = score

    manifest = train(recipe, out, data_root=data_root, evaluations=3, report=seen)
    step = max(scores, key=lambda k: scores[k])
    assert manifest.quality == {
        "validation_psnr": round(scores[step], 3),
        "selected_step": step,
    }


def test_gpu_scale_and_device(data_root: Path) -> None:
    recipe = replace(RECIPE, gpu_scale=8, batch=16, lr=1e-3)
    assert device_schedule(recipe, 12_000, torch.device("cpu")) == (12_000, 16, 1e-3)
    steps, batch, lr = device_schedule(recipe, 12_000, torch.device("cuda"))
    assert (steps, batch) == (1500, 128) and lr == pytest.approx(1e-3 * math.sqrt(8))
    assert training_device("cpu") == torch.device("cpu")
    assert training_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    out = data_root / "cpu.safetensors"
    assert train(RECIPE, out, data_root=data_root, evaluations=1, device="cpu").training.steps == 6


def test_resume_refuses_a_checkpoint_of_another_batch_size(data_root: Path) -> None:
    out = data_root / "other.safetensors"

    def crash(step: int, total: int, loss: float, psnr: float | None) -> None:
        if step == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(RECIPE, out, data_root=data_root, evaluations=2, report=crash)
    with pytest.raises(RestoreError, match="made with 4 patches per step"):
        train(replace(RECIPE, batch=8), out, data_root=data_root, evaluations=2, resume=True)


def test_relativistic_losses_reward_the_side_the_critic_cannot_tell_apart() -> None:
    confident_real, confident_fake = torch.full((4, 1, 2, 2), 5.0), torch.full((4, 1, 2, 2), -5.0)
    critic, generator = relativistic_losses(confident_real, confident_fake)
    assert critic < 0.01 and generator > 5  # the critic wins: the generator pays
    critic, generator = relativistic_losses(confident_fake, confident_real)
    assert critic > 5 and generator < 0.01
    even = torch.zeros(4, 1, 2, 2)
    torch.testing.assert_close(relativistic_losses(even, even)[0], torch.tensor(math.log(2)))
    assert Critic(3, 8)(torch.zeros(2, 3, 64, 96)).shape == (2, 1, 2, 3)


def test_adversarial_fine_tuning_starts_from_weights_and_resumes_exactly(
    data_root: Path,
) -> None:
    start = data_root / "start.safetensors"
    train(RECIPE, start, data_root=data_root, evaluations=1)
    critic = Adversarial(weight=0.1, width=4)
    tuned = replace(RECIPE, patch=64, start_from=start, adversarial=critic)  # 64: 2 x 2 cells
    straight = data_root / "straight.safetensors"
    train(tuned, straight, data_root=data_root, evaluations=2)
    begun, _ = load_weights(start)
    assert any(not torch.equal(begun[k], v) for k, v in load_file(straight).items())

    interrupted = data_root / "resumed.safetensors"

    def crash(step: int, total: int, loss: float, psnr: float | None) -> None:
        if step == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tuned, interrupted, data_root=data_root, evaluations=2, report=crash)
    checkpoint = torch.load(interrupted.with_suffix(".ckpt"), weights_only=False)
    assert set(checkpoint["adversarial"]) == {"critic", "optimiser"}
    train(tuned, interrupted, data_root=data_root, evaluations=2, resume=True)
    a, b = load_file(straight), load_file(interrupted)
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_starting_weights_of_another_architecture_are_refused(data_root: Path) -> None:
    other = data_root / "other.safetensors"
    train(replace(RECIPE, network=replace(TINY, architecture="Other")), other, data_root=data_root)
    with pytest.raises(RestoreError, match="architecture"):
        train(replace(RECIPE, start_from=other), data_root / "x.safetensors", data_root=data_root)


def test_an_adversarial_term_needs_a_loss_not_an_objective() -> None:
    with pytest.raises(ValueError, match="needs `loss`"):
        replace(RECIPE, objective=lambda m, x, y: x.mean(), adversarial=Adversarial())


def test_fine_tuning_from_the_command_line_records_its_lineage(data_root: Path) -> None:
    from restore.lab.export import model_card

    def run(*extra: str, out: Path) -> Result:
        args = ["train", "denoise.dncnn-gray", "--data", str(data_root / "photos")]
        return CliRunner().invoke(app, [*args, "--steps", "1", "--out", str(out), *extra])

    first, second = data_root / "first.safetensors", data_root / "second.safetensors"
    assert run(out=first).exit_code == 0
    result = run("--start-from", str(first), "--lr", "1e-09", out=second)
    assert result.exit_code == 0, result.output
    tuned, made = load_weights(second)
    begun, origin = load_weights(first)
    assert made.training.command.endswith(f"--start-from {first} --lr 1e-09")
    assert all(torch.allclose(tuned[k], begun[k], atol=1e-6) for k in begun)  # a tiny rate
    lineage = made.training.started_from
    assert lineage is not None and lineage.sha256 == origin.sha256
    assert lineage.training == origin.training and lineage.training.started_from is None
    card = model_card(made, description="A test.")
    assert f"Fine-tuned from `first` (SHA-256 `{origin.sha256[:16]}…`)" in card
    assert origin.training.command in card and made.training.command in card

    missing = run("--start-from", str(data_root / "none.safetensors"), out=second)
    assert missing.exit_code == 2 and "none.safetensors: no such weights file" in missing.output
    negative = run("--lr", "-1", out=second)
    assert negative.exit_code == 2 and "--lr must be positive" in negative.output
