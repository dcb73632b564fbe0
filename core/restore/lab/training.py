"""Training toolkit: recipes, patches sampled from image folders, the loop, export.

A plugin registers ``TrainingRecipe`` objects (hook ``register_training``); the
``restore train`` command runs one on CPU or GPU, checkpoints as it goes (resume
with ``--resume``) and exports safetensors weights with a manifest.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal, Protocol

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from restore.api.color import to_channels
from restore.api.errors import RestoreError
from restore.api.network import NetworkConfig, NetworkSpec
from restore.api.weights import Manifest, Origin, Training, WeightsPath, load_weights
from restore.app.registry import Registry
from restore.io.atomic import write_atomically
from restore.io.images import SUPPORTED_SUFFIXES, read_image
from restore.lab.adversarial import Adversarial, AdversarialTraining
from restore.lab.data import DATA_ENV
from restore.lab.degrade import Degraded, load_recipe
from restore.lab.export import save_weights

Predict = Callable[[nn.Module, torch.Tensor], torch.Tensor]
Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Objective = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]
Condition = Callable[[Degraded], float]


class Degrades(Protocol):
    """What degrades clean patches: a ``restore.lab.degrade.Recipe``, or a plugin's own
    object with the same three members (e.g. one of several blurs per image, then the
    stage's own preprocessing of the degraded image)."""

    @property
    def name(self) -> str:
        """Recorded in the weights manifest as the training's degradation recipe."""
        ...

    def apply(self, image: np.ndarray, seed: int | np.random.Generator) -> Degraded:
        """The degraded H x W x C image (the network's input), its damage mask, what it drew."""
        ...

    def with_data(self, root: str | Path) -> Degrades:
        """A copy whose relative data paths are resolved against the data root."""
        ...


def predict_residual(model: nn.Module, degraded: torch.Tensor) -> torch.Tensor:
    """Residual learning (DnCNN): the network predicts the degradation, which is removed."""
    return degraded - model(degraded)


def predict_direct(model: nn.Module, degraded: torch.Tensor) -> torch.Tensor:
    """The network's output is the restoration itself (a super-resolution network)."""
    return model(degraded)


def mse(restored: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Mean squared error."""
    return F.mse_loss(restored, clean)


def l1(restored: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Mean absolute error (sharper than MSE's mean of the plausible answers)."""
    return F.l1_loss(restored, clean)


def log_mse(restored: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of each sample's log MSE: maximises mean PSNR.

    Plain MSE lets the samples with the most degradation (high noise) dominate
    the gradient; in log space every sample counts by its relative error, so
    lightly degraded ones are not neglected. A floor of one 8-bit level keeps
    the log finite, and the 1e-3 scale keeps gradients near MSE's.
    """
    per_sample = (restored - clean).pow(2).mean(dim=tuple(range(1, restored.ndim)))
    return 1e-3 * torch.log(per_sample + (1 / 255) ** 2).mean()


@dataclass(frozen=True)
class TrainingRecipe:
    """How to train the weights of one stage: model, data, degradation and schedule.

    ``data`` folders and a ``degradation`` YAML path are relative to the data
    root (``--data-root``, default ``../shared/data``); ``degradation`` may also be
    a ``Degrades`` object (a ``Recipe``, or a plugin's own). ``holdout`` percent of
    the images (chosen by a hash of their file name, so stable) is never
    trained on and serves for validation (see ``image_split`` for
    ``split_by_folder`` and ``reserved``).
    """

    name: str
    stage: str
    network: NetworkSpec[Any]
    config: NetworkConfig
    degradation: str | Degrades
    channels: Literal[1, 3]
    data: tuple[str, ...]
    description: str = ""
    predict: Predict = predict_residual
    loss: Loss = mse
    patch: int = 64
    batch: int = 16
    steps: int = 8000
    lr: float = 1e-3
    holdout: int = 5
    validation_size: int = 256
    clip: float | None = None
    """Largest gradient norm (``clip_grad_norm_``) per step; ``None`` does not clip."""
    bf16: bool = False
    """Forward passes under bfloat16 autocast (weights, optimiser and validation stay float32)
    where the device runs bfloat16 natively (``native_bf16``): about twice as fast on CPUs
    with AVX-512 BF16; elsewhere float32."""
    objective: Objective | None = None
    """``objective(model, degraded, clean) -> scalar``: when set, the training loss instead of
    ``loss(predict(model, degraded), clean)`` (e.g. a classification loss on the network's
    logits); ``predict`` still makes the validation restorations."""
    target: Literal["clean", "mask"] = "clean"
    """What the network learns to give: the clean image, or the degradation's damage mask
    (a detector: ``predict`` gives probabilities, validated by F1 at 0.5, not PSNR)."""
    mask_input: bool = False
    """Give the network the degradation's damage mask as an extra last input channel
    (an inpainter: it learns to fill what the mask marks)."""
    condition: Condition | None = None
    """Give the network ``condition(degraded)`` (what the degradation sampled, e.g. the
    JPEG quality / 100) as an extra last input channel, constant over the patch: a
    network that a user's setting steers, which it learns to estimate too."""
    negatives: str | None = None
    """A degradation for hard-negative samples, used instead of ``degradation`` for
    ``negative_fraction`` of them: e.g. ``print-like``, an old print's look with no
    damage (an empty mask), so a detector learns what is not damage."""
    negative_fraction: float = 0.0
    split_by_folder: bool = False
    """Hold out ``holdout`` percent (rounded up) of every folder of images, not ``holdout``
    percent of all of them on average, so small folders are validated on too."""
    reserved: int = 0
    """Percent of the images (by the same hash as ``held_out``) kept out of training and
    validation alike: a test split for benchmarks that no model selection has seen."""
    rotate: bool = True
    """Rotate patches by random multiples of 90 degrees (off for images with an up, whose
    orientation is a cue: skies above, ground below)."""
    zoom: tuple[float, float] = (1.0, 1.0)
    """Scale augmentation: a patch is cut at ``patch * z`` pixels (z uniform in this range,
    at most the image's short side) and resized to ``patch``."""
    select_best: bool = False
    """Export the evaluated state with the best validation score, not the last one."""
    gpu_scale: int = 1
    """On CUDA: ``batch * gpu_scale`` patches per step, ``steps / gpu_scale`` steps (the
    same number of patches) and ``lr * sqrt(gpu_scale)``."""
    start_from: WeightsPath | None = None
    """Weights of the same architecture and configuration to start from instead of a
    random initialisation: the fidelity model that a realistic variant fine-tunes."""
    adversarial: Adversarial | None = None
    """Add a relativistic adversarial term against a patch critic to ``loss`` (not with
    ``objective``); the critic trains alongside and is checkpointed, not exported."""

    def __post_init__(self) -> None:
        if self.adversarial is not None and self.objective is not None:
            raise ValueError(f"{self.name}: an adversarial term needs `loss`, not `objective`")

    @property
    def score_name(self) -> str:
        """The validation score this recipe reports (in the manifest's ``quality``)."""
        return "validation_f1" if self.target == "mask" else "validation_psnr"


def training_recipes(registry: Registry) -> dict[str, TrainingRecipe]:
    """Every recipe the loaded plugins register (hook ``register_training``), by name."""
    recipes: dict[str, TrainingRecipe] = {}
    for plugin, recipe in registry.contributions("register_training"):
        if not isinstance(recipe, TrainingRecipe):
            raise RestoreError(f"plugin {plugin!r}: {recipe!r} is not a TrainingRecipe")
        if recipe.name in recipes:
            raise RestoreError(
                f"plugin {plugin!r}: training recipe {recipe.name!r} is registered twice"
            )
        recipes[recipe.name] = recipe
    return recipes


def find_recipe(registry: Registry, name: str) -> TrainingRecipe:
    """The training recipe called ``name``; the error lists the registered ones."""
    recipes = training_recipes(registry)
    if name not in recipes:
        known = ", ".join(sorted(recipes)) or "none"
        raise RestoreError(f"unknown training recipe {name!r} (known: {known})")
    return recipes[name]


def _digest(relative: Path) -> bytes:
    return hashlib.sha256(relative.as_posix().encode()).digest()


def held_out(relative: Path, percent: int) -> bool:
    """Whether an image is in the validation split (stable: a hash of its name)."""
    return int.from_bytes(_digest(relative)[:4], "big") % 100 < percent


Split = Literal["train", "validation", "test"]


def image_split(
    folder: Path, holdout: int, *, by_folder: bool = False, reserved: int = 0
) -> dict[Path, Split]:
    """The split of every image under ``folder``, by its path relative to ``folder``.

    ``test``: the ``reserved`` percent that ``held_out`` picks (never trained on or
    validated on). ``validation``: of the others, those ``held_out(relative,
    reserved + holdout)`` picks, or with ``by_folder``, in each folder of images,
    ``holdout`` percent of the folder's images (rounded up), those with the
    smallest hashes. The rest: ``train``. All of it is stable: a hash of each
    relative path.
    """
    found = sorted(
        path.relative_to(folder)
        for path in folder.rglob("*")
        if path.suffix.lower() in SUPPORTED_SUFFIXES
    )
    split: dict[Path, Split] = {
        relative: "test" if held_out(relative, reserved) else "train" for relative in found
    }
    if not by_folder:
        for relative in found:
            if split[relative] == "train" and held_out(relative, reserved + holdout):
                split[relative] = "validation"
        return split
    groups: dict[Path, list[Path]] = {}
    for relative in found:
        groups.setdefault(relative.parent, []).append(relative)
    for members in groups.values():
        count = math.ceil(len(members) * holdout / 100)
        candidates = sorted((m for m in members if split[m] == "train"), key=_digest)
        for relative in candidates[:count]:
            split[relative] = "validation"
    return split


class ImageBank:
    """The images of some folders, held in memory as uint8, for patch sampling."""

    def __init__(
        self,
        folders: Sequence[Path],
        channels: int,
        *,
        split: Split,
        holdout: int,
        minimum: int,
        by_folder: bool = False,
        reserved: int = 0,
    ) -> None:
        self.images: list[np.ndarray] = []
        for folder in folders:
            if not folder.is_dir():
                raise RestoreError(f"{folder}: training data folder not found")
            splits = image_split(folder, holdout, by_folder=by_folder, reserved=reserved)
            for relative, which in splits.items():
                if which != split:
                    continue
                pixels = to_channels(read_image(folder / relative).pixels, channels)
                if min(pixels.shape[:2]) >= minimum:
                    self.images.append(np.round(pixels * 255).astype(np.uint8))
        if not self.images:
            raise RestoreError(f"no {split} images of at least {minimum} px in {list(folders)}")

    def patches(
        self,
        rng: np.random.Generator,
        count: int,
        size: int,
        *,
        rotate: bool = True,
        zoom: tuple[float, float] = (1.0, 1.0),
    ) -> np.ndarray:
        """``count`` random ``size`` x ``size`` crops, randomly flipped and (with ``rotate``)
        rotated; with a ``zoom`` range, cut at ``size * z`` and resized (area) to ``size``."""
        channels = self.images[0].shape[2]
        out = np.empty((count, size, size, channels), np.float32)
        for k in range(count):
            image = self.images[rng.integers(len(self.images))]
            side = size
            if zoom != (1.0, 1.0):
                side = min(round(size * rng.uniform(*zoom)), *image.shape[:2])
            y = rng.integers(image.shape[0] - side + 1)
            x = rng.integers(image.shape[1] - side + 1)
            patch = image[y : y + side, x : x + side]
            if side != size:
                patch = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)
                patch = patch.reshape(size, size, channels)
            if rotate:
                patch = np.rot90(patch, int(rng.integers(4)))
            out[k] = (patch[:, ::-1] if rng.random() < 0.5 else patch) / 255
        return out

    def validation_set(self, size: int) -> list[np.ndarray]:
        """Each image centre-cropped to at most ``size`` x ``size``, as float32."""
        crops = []
        for image in self.images:
            y = max(0, (image.shape[0] - size) // 2)
            x = max(0, (image.shape[1] - size) // 2)
            crops.append(image[y : y + size, x : x + size].astype(np.float32) / 255)
        return crops


def to_tensor(batch: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """N x H x W x C float32 numpy -> N x C x H x W channels-last tensor on ``device``."""
    tensor = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).to(device)
    return tensor.contiguous(memory_format=torch.channels_last)


def training_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when there is a GPU, else the CPU; or the device named."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` runs bfloat16 natively: a CUDA GPU that supports it, or a CPU
    with AVX-512 BF16 or AMX (elsewhere CPU autocast emulates it, many times slower)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def device_schedule(
    recipe: TrainingRecipe, steps: int, device: torch.device
) -> tuple[int, int, float]:
    """Steps, batch and learning rate on ``device``: on CUDA ``steps / gpu_scale``,
    ``batch * gpu_scale`` and ``lr * sqrt(gpu_scale)``, elsewhere as given."""
    scale = recipe.gpu_scale if device.type == "cuda" else 1
    return math.ceil(steps / scale), recipe.batch * scale, recipe.lr * math.sqrt(scale)


def degradation_of(spec: str | Degrades, data_root: Path) -> Degrades:
    """The named recipe or YAML file, or the ``Degrades`` object, with data under ``data_root``."""
    return load_recipe(spec, data_root) if isinstance(spec, str) else spec.with_data(data_root)


def training_pair(
    recipe: TrainingRecipe,
    degradation: Degrades,
    clean: np.ndarray,
    rng: np.random.Generator,
    negatives: Degrades | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """One clean H x W x C image degraded into the network's input and target: the
    degraded image (with the damage mask as a next channel if ``mask_input``, then the
    ``condition`` channel if set), and the
    clean image or, for a detector, the damage mask (H x W x 1). With ``negatives``,
    ``recipe.negative_fraction`` of the images are degraded by it instead."""
    if negatives is not None and rng.random() < recipe.negative_fraction:
        degradation = negatives
    degraded = degradation.apply(clean, rng)
    mask = degraded.mask[..., None]
    inputs = np.concatenate([degraded.image, mask], axis=2) if recipe.mask_input else degraded.image
    if recipe.condition is not None:
        value = np.full_like(mask, recipe.condition(degraded))
        inputs = np.concatenate([inputs, value], axis=2)
    return inputs, mask if recipe.target == "mask" else clean


def training_batch(
    recipe: TrainingRecipe,
    degradation: Degrades,
    clean: np.ndarray,
    rng: np.random.Generator,
    negatives: Degrades | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``training_pair`` for every patch of a batch, stacked."""
    pairs = [training_pair(recipe, degradation, patch, rng, negatives) for patch in clean]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def validation_score(
    recipe: TrainingRecipe, model: nn.Module, pairs: Sequence[tuple[np.ndarray, np.ndarray]]
) -> float:
    """The model on held-out (input, target) pairs: mean PSNR (8-bit quantised) of its
    restorations, or for a detector the pixel F1 of its mask at probability 0.5 over
    all pairs together."""
    model.eval()
    device = next(model.parameters()).device
    scores, hits, marked, truth = [], 0.0, 0.0, 0.0
    with torch.inference_mode():
        for inputs, target in pairs:
            height, width = target.shape[:2]
            multiple = recipe.network.multiple
            padded = np.pad(
                inputs, ((0, -height % multiple), (0, -width % multiple), (0, 0)), "reflect"
            )
            output = recipe.predict(model, to_tensor(padded[None], device))[0].permute(1, 2, 0)
            result = output[:height, :width].clamp(0, 1).float().cpu().numpy()
            if recipe.target == "mask":
                found, real = result > 0.5, target > 0.5
                hits += float(np.sum(found & real))
                marked += float(np.sum(found))
                truth += float(np.sum(real))
            else:
                error = np.mean((np.round(result * 255) - np.round(target * 255)) ** 2)
                scores.append(10 * math.log10(255**2 / max(error, 1e-10)))
    model.train()
    if recipe.target == "mask":
        return 2 * hits / max(marked + truth, 1.0)
    return float(np.mean(scores))


StepReport = Callable[[int, int, float, float | None], None]
"""(step, total steps, loss, validation score or None: see ``TrainingRecipe.score_name``)."""


def recorded_folder(folder: Path, data_root: Path) -> str:
    """``folder`` as a manifest records it: ``$RESTORE_DATA/<name>`` under the data root
    (so the record holds on any machine), else as given."""
    try:
        return f"${DATA_ENV}/{folder.absolute().relative_to(data_root.absolute()).as_posix()}"
    except ValueError:
        return str(folder)


def train(
    recipe: TrainingRecipe,
    out: Path,
    *,
    data_root: Path,
    folders: Sequence[Path] = (),
    steps: int | None = None,
    seed: int = 0,
    resume: bool = False,
    command: str = "",
    report: StepReport | None = None,
    evaluations: int = 10,
    device: str = "auto",
) -> Manifest:
    """Train ``recipe`` and export ``out`` (.safetensors + .json manifest).

    A checkpoint ``<out>.ckpt`` is written at every evaluation; with ``resume``
    training continues from it exactly (model, optimiser, schedule, RNG states).
    ``device`` ``auto`` trains on CUDA when there is a GPU, with the recipe's
    ``gpu_scale`` (``steps`` counts CPU-sized steps, so the same command fits both).
    """
    where = training_device(device)
    bf16 = recipe.bf16 and native_bf16(where)
    steps, batch, lr = device_schedule(recipe, steps or recipe.steps, where)
    folders = list(folders) or [data_root / name for name in recipe.data]
    degradation = degradation_of(recipe.degradation, data_root)
    negatives = load_recipe(recipe.negatives, data_root) if recipe.negatives else None
    bank = partial(
        ImageBank,
        folders,
        recipe.channels,
        holdout=recipe.holdout,
        by_folder=recipe.split_by_folder,
        reserved=recipe.reserved,
    )
    train_bank = bank(split="train", minimum=recipe.patch)
    validation_bank = bank(split="validation", minimum=16)
    validation_rng = np.random.default_rng(seed + 1)
    pairs = [
        training_pair(recipe, degradation, clean, validation_rng, negatives)
        for clean in validation_bank.validation_set(recipe.validation_size)
    ]

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = recipe.network.build(recipe.config).to(where)
    # Module.to takes memory_format at runtime (in place, as documented); its stubs omit it.
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    origin = None
    if recipe.start_from is not None:
        initial, started = load_weights(
            recipe.start_from, expect_architecture=recipe.network.architecture
        )
        model.load_state_dict(initial)
        origin = Origin(name=started.name, sha256=started.sha256, training=started.training)
    adversarial = (
        AdversarialTraining(recipe.adversarial, recipe.channels, where)
        if recipe.adversarial is not None
        else None
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(step / steps, 1)))
    )
    checkpoint = out.with_suffix(".ckpt")
    start, seconds = 0, 0.0
    best: dict[str, Any] | None = None  # with select_best: score, step and model state
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False, map_location="cpu")
        made = state.get("batch", recipe.batch)
        if made != batch:
            raise RestoreError(
                f"{checkpoint}: made with {made} patches per step, this device "
                f"trains with {batch}; resume it on the kind of device that made it"
            )
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        start, seconds, best = state["step"], state["seconds"], state.get("best")
        if adversarial is not None:
            adversarial.load(state["adversarial"])

    every = max(1, steps // evaluations)
    began = time.perf_counter() - seconds
    score = None
    for step in range(start + 1, steps + 1):
        patches = train_bank.patches(
            rng, batch, recipe.patch, rotate=recipe.rotate, zoom=recipe.zoom
        )
        inputs, target = training_batch(recipe, degradation, patches, rng, negatives)
        x, y = to_tensor(inputs, where), to_tensor(target, where)
        with torch.autocast(where.type, dtype=torch.bfloat16, enabled=bf16):
            if recipe.objective is not None:
                loss = recipe.objective(model, x, y)
            else:
                restored = recipe.predict(model, x).float()
                loss = recipe.loss(restored, y)
                if adversarial is not None:
                    loss = loss + adversarial.generator_loss(restored, y)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if recipe.clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), recipe.clip)
        optimiser.step()
        schedule.step()
        if adversarial is not None:
            with torch.autocast(where.type, dtype=torch.bfloat16, enabled=bf16):
                adversarial.update(restored, y)
        score = None
        if step % every == 0 or step == steps:
            score = validation_score(recipe, model, pairs)
            if recipe.select_best and (best is None or score > best["score"]):
                weights = {
                    k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()
                }
                best = {"score": score, "step": step, "model": weights}
            state = {
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "schedule": schedule.state_dict(),
                "rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
                "step": step,
                "seconds": time.perf_counter() - began,
                "batch": batch,
                "best": best,
                "adversarial": adversarial.state() if adversarial is not None else None,
            }
            write_atomically(checkpoint, partial(torch.save, state))
        if report is not None:
            report(step, steps, loss.item(), score)

    final = score if score is not None else validation_score(recipe, model, pairs)
    quality = {recipe.score_name: round(final, 3)}
    if best is not None:  # select_best: the best evaluated state (perhaps the last)
        model.load_state_dict(best["model"])
        quality = {recipe.score_name: round(best["score"], 3), "selected_step": best["step"]}
    manifest = save_weights(
        model,
        out,
        name=out.stem,
        stage=recipe.stage,
        architecture=recipe.network.architecture,
        config=recipe.config.model_dump(mode="json"),
        version="1",
        training=Training(
            data=[recorded_folder(folder, data_root) for folder in folders],
            recipe=recipe.degradation if isinstance(recipe.degradation, str) else degradation.name,
            command=command,
            steps=steps,
            seconds=round(time.perf_counter() - began, 1),
            date=datetime.date.today().isoformat(),
            started_from=origin,
        ),
        quality=quality,
    )
    checkpoint.unlink(missing_ok=True)
    return manifest
