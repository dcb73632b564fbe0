"""Weights: safetensors + manifest round trip, hash verification, caching, package resources."""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import threading
import zipfile
from pathlib import Path

import pytest
import torch

from restore.api.errors import StageUnavailable
from restore.api.weights import (
    Manifest,
    WeightsError,
    load_model,
    load_weights,
    read_manifest,
)
from restore.lab.export import model_card, save_weights

TRAINING = {
    "data": ["data/train/clean"],
    "recipe": "gaussian-noise",
    "command": "restore-train denoise.tiny --steps 10 --seed 0",
    "steps": 10,
    "seconds": 1.5,
    "date": "2025-01-01",
}


class Tiny(torch.nn.Module):
    def __init__(self, channels: int = 3, width: int = 4) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(channels, width, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(width, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x - self.conv2(torch.relu(self.conv1(x)))


def build(config: dict) -> torch.nn.Module:
    return Tiny(**config)


def save(path: Path, net: torch.nn.Module | None = None, **overrides) -> Manifest:
    torch.manual_seed(0)
    fields = {
        "name": "tiny-color",
        "stage": "denoise.tiny",
        "architecture": "Tiny",
        "config": {"channels": 3, "width": 4},
        "version": "1",
        "training": TRAINING,
        "quality": {"psnr_sigma25_color": 29.1},
    } | overrides
    return save_weights(net if net is not None else Tiny(), path, **fields)


def test_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = Tiny().eval()
    path = tmp_path / "tiny.safetensors"
    manifest = save(path, net)
    assert manifest.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert manifest.parameters == sum(p.numel() for p in net.parameters())
    on_disk = json.loads(path.with_suffix(".json").read_text())
    assert list(on_disk) == sorted(on_disk)
    assert Manifest.model_validate(on_disk) == manifest
    assert read_manifest(path) == manifest
    assert manifest.training.command == TRAINING["command"]
    assert manifest.quality == {"psnr_sigma25_color": 29.1}

    loaded = load_model(build, path, device="cpu", expect_stage="denoise.tiny")
    assert loaded is not net and not loaded.training
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(loaded(x), net(x))
    assert not list(tmp_path.glob("*.tmp"))


def test_float32_by_default_and_contiguous(tmp_path: Path) -> None:
    state = {"w": torch.arange(6, dtype=torch.float64).reshape(2, 3).t(), "n": torch.tensor(3)}
    save(tmp_path / "s.safetensors", state)
    tensors, manifest = load_weights(tmp_path / "s.safetensors")
    assert tensors["w"].dtype == torch.float32 and tensors["n"].dtype == torch.int64
    assert torch.equal(tensors["w"], state["w"].float())
    assert manifest.parameters == 6


def test_flipped_byte_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tiny.safetensors"
    save(path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="SHA-256 mismatch") as info:
        load_weights(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, StageUnavailable)


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tiny.safetensors"
    save(path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(WeightsError, match="SHA-256 mismatch"):
        load_model(build, path, device="cpu")


def test_unparseable_file_with_matching_hash_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny.safetensors"
    save(path)
    path.write_bytes(b"not safetensors")
    manifest_file = path.with_suffix(".json")
    fields = json.loads(manifest_file.read_text())
    fields["sha256"] = hashlib.sha256(b"not safetensors").hexdigest()
    manifest_file.write_text(json.dumps(fields))
    with pytest.raises(WeightsError, match="not a valid safetensors file") as info:
        load_weights(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_weights_holding_non_finite_values_are_refused(tmp_path: Path, bad: float) -> None:
    path = tmp_path / "tiny.safetensors"
    net = Tiny()
    with torch.no_grad():
        next(net.parameters()).view(-1)[0] = bad
    save(path, net)  # a manifest whose hash matches: only the values are wrong
    with pytest.raises(WeightsError, match="NaN or infinite") as info:
        load_model(build, path, device="cpu")
    assert str(path) in str(info.value)


def test_missing_files_are_named(tmp_path: Path) -> None:
    path = tmp_path / "tiny.safetensors"
    save(path)
    path.with_suffix(".json").unlink()
    with pytest.raises(WeightsError, match="manifest") as info:
        load_weights(path)
    assert str(path.with_suffix(".json")) in str(info.value)

    save(path)
    path.unlink()
    with pytest.raises(WeightsError) as info:
        load_weights(path)
    assert str(info.value) == f"{path}: cannot read weights (no such file)"


def test_invalid_manifest(tmp_path: Path) -> None:
    path = tmp_path / "tiny.safetensors"
    save(path)
    manifest_file = path.with_suffix(".json")
    manifest_file.write_text(json.dumps(json.loads(manifest_file.read_text()) | {"extra": 1}))
    with pytest.raises(WeightsError, match=r"invalid manifest: extra"):
        load_weights(path)


def test_wrong_stage_or_architecture(tmp_path: Path) -> None:
    path = tmp_path / "tiny.safetensors"
    save(path)
    with pytest.raises(WeightsError, match=r"for stage 'denoise.tiny', not 'deblur.tiny'"):
        load_weights(path, expect_stage="deblur.tiny")
    with pytest.raises(WeightsError, match=r"for architecture 'Tiny', not 'DnCNN'"):
        load_model(build, path, device="cpu", expect_architecture="DnCNN")


def test_state_dict_mismatch_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "tiny.safetensors"
    state = Tiny().state_dict()
    del state["conv2.bias"]
    save(path, state)
    with pytest.raises(WeightsError, match=r"missing conv2\.bias") as info:
        load_model(build, path, device="cpu")
    assert str(path) in str(info.value)

    save(path, Tiny(), config={"channels": 3, "width": 5})
    with pytest.raises(WeightsError, match="size mismatch") as info:
        load_model(build, path, device="cpu")
    assert "\n" not in str(info.value)


def test_loads_once_even_across_threads(tmp_path: Path) -> None:
    path = tmp_path / "tiny.safetensors"
    save(path)
    builds = []

    def counting(config: dict) -> torch.nn.Module:
        builds.append(config)
        return build(config)

    barrier = threading.Barrier(8)
    results: list[torch.nn.Module] = []

    def worker() -> None:
        barrier.wait()
        results.append(load_model(counting, path, device="cpu"))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(builds) == 1 and len(results) == 8
    assert all(r is results[0] for r in results)
    assert load_model(counting, path, device="cpu") is results[0]
    assert len(builds) == 1


def _package(root: Path, name: str) -> None:
    (root / name / "weights").mkdir(parents=True)
    (root / name / "__init__.py").write_text("")
    save(root / name / "weights" / "tiny.safetensors")


def test_load_from_package_resources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _package(tmp_path, "restore_weights_pkg_dir")
    monkeypatch.syspath_prepend(str(tmp_path))
    resource = importlib.resources.files("restore_weights_pkg_dir").joinpath(
        "weights/tiny.safetensors"
    )
    tensors, manifest = load_weights(resource, expect_stage="denoise.tiny")
    assert manifest.name == "tiny-color"
    assert set(tensors) == set(Tiny().state_dict())
    assert isinstance(load_model(build, resource, device="cpu"), Tiny)


def test_load_from_zipped_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _package(tmp_path / "src", "restore_weights_pkg_zip")
    archive = tmp_path / "pkg.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for file in (tmp_path / "src").rglob("*"):
            if file.is_file():
                z.write(file, file.relative_to(tmp_path / "src").as_posix())
    monkeypatch.syspath_prepend(str(archive))
    weights = importlib.resources.files("restore_weights_pkg_zip").joinpath("weights")
    resource = weights.joinpath("tiny.safetensors")
    assert not isinstance(resource, Path)
    model = load_model(build, resource, device="cpu", expect_architecture="Tiny")
    assert isinstance(model, Tiny)
    with pytest.raises(WeightsError, match=r"absent\.json: cannot read the weights manifest"):
        load_weights(weights.joinpath("absent.safetensors"))


def test_model_card(tmp_path: Path) -> None:
    manifest = save(tmp_path / "tiny.safetensors")
    card = model_card(
        manifest,
        description="A tiny denoiser for tests.",
        extra_sections={"Limitations": "Trained on ten steps; useless on real photos."},
    )
    assert card.startswith("# tiny-color\n")
    for text in (
        TRAINING["command"],
        "psnr_sigma25_color | 29.1",
        manifest.sha256,
        "denoise.tiny",
        "`data/train/clean`",
        "## Limitations",
    ):
        assert text in card
    assert "Not measured." in model_card(
        manifest.model_copy(update={"quality": {}}), description="x"
    )
