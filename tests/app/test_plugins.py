"""Plugin discovery through entry points, isolation of broken plugins, env-var control."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from fakes import Add, ToyPlugin
from restore import Stage, Tiling, hookimpl
from restore.app.registry import Registry
from restore.io.images import read_image, write_image

ROOT = Path(__file__).resolve().parents[2]
BUILT_IN = {
    "denoise": {"denoise.nlmeans", "denoise.dncnn", "denoise.mwcnn"},
    "deblur": {"deblur.wiener", "deblur.richardson_lucy", "deblur.unet"},
    "sharpen": {"sharpen.unsharp", "sharpen.cnn"},
    "inpaint": {"inpaint.damage_mask", "inpaint.unet_mask", "inpaint.opencv", "inpaint.gated"},
    "colorize": {"colorize.global", "colorize.unet", "colorize.regression"},
    "dejpeg": {"dejpeg.cnn", "dejpeg.flexible"},
    "superres": {"superres.rrdb_x2", "superres.rrdb_x4", "superres.real_x4"},
}


def fake_distribution(where: Path, name: str, module_source: str) -> None:
    """An installed distribution (dist-info + module) registering one restore plugin."""
    (where / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = where / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[restore.plugins]\n{name} = {name}\n")


def test_built_in_plugins_found_through_entry_points() -> None:
    registry = Registry.from_entry_points()
    found = {info.name: set(info.stages) for info in registry.plugins}
    assert found == BUILT_IN
    assert not list(registry.broken())
    assert all(info.version == "0.1.0" for info in registry.plugins)


def test_environment_restricts_and_blocks() -> None:
    only = Registry.from_entry_points({"RESTORE_PLUGINS": "denoise,sharpen"})
    assert set(only.stages) == BUILT_IN["denoise"] | BUILT_IN["sharpen"]
    skipped = {"deblur", "inpaint", "colorize", "dejpeg", "superres"}
    assert {i.name for i in only.plugins if i.skipped} == skipped
    blocked = Registry.from_entry_points({"RESTORE_DISABLE_PLUGINS": "denoise"})
    assert "denoise.nlmeans" not in blocked.stages and "sharpen.unsharp" in blocked.stages
    assert Registry.from_entry_points({"RESTORE_PLUGINS": ""}).stages == {}


def test_broken_plugin_reported_others_load(tmp_path: Path, monkeypatch) -> None:
    fake_distribution(tmp_path, "crashy", "raise ImportError('needs libfoo')\n")
    fake_distribution(
        tmp_path,
        "typo",
        """
        from restore import hookimpl

        @hookimpl
        def register_stage(register):
            pass
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry.from_entry_points({"RESTORE_PLUGINS": "crashy,typo,sharpen"})
    errors = {info.name: info.error for info in registry.broken()}
    assert "import failed: ImportError: needs libfoo" in errors["crashy"]
    assert "unknown hook 'register_stage'" in errors["typo"]
    assert set(registry.stages) == BUILT_IN["sharpen"]


def test_bad_stage_declarations_rejected() -> None:
    class Nameless(Stage):
        name = "NoDot"

        def process(self, inputs, params):
            return inputs

    class NoProcess(Stage):
        name = "toy.lazy"
        tiling = Tiling()

    class Plugin:
        __name__ = "bad"

        def __init__(self, stage):
            self.stage = stage

        @hookimpl
        def register_stages(self, register):
            register(self.stage)

    for stage, message in [(Nameless, "must look like 'task.method'"), (NoProcess, "process")]:
        registry = Registry.from_plugins(Plugin(stage))
        assert message in registry.plugins[0].error
        assert registry.stages == {}
    copycat = Plugin(Add)
    copycat.__name__ = "copycat"
    duplicate = Registry.from_plugins(ToyPlugin(), copycat)
    assert "stage 'toy.add' is already provided by plugin 'toy'" in duplicate.plugins[1].error
    assert duplicate.owner(Add.name) == "toy"


@pytest.mark.slow
def test_template_plugin_swaps_in_for_a_built_in_stage(tmp_path: Path) -> None:
    """Install the out-of-tree template for real, then use it in place of denoise.nlmeans."""
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(ROOT / "examples" / "plugin-template"),
        ],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(site), "RESTORE_PLUGINS": "denoise,median"}
    restore = [sys.executable, "-c", "from restore.app.cli.main import main; main()"]
    listed = subprocess.run(
        [*restore, "plugins", "--json"], env=env, capture_output=True, text=True, check=True
    )
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert plugins["median"]["version"] == "0.1.0"
    assert [s["name"] for s in plugins["median"]["stages"]] == ["median.denoise"]

    rng = np.random.default_rng(0)
    clean = np.full((40, 50, 3), 0.5, np.float32)
    noisy = clean.copy()
    noisy[rng.random((40, 50)) < 0.05] = 1.0  # salt noise: the median removes it
    photos = tmp_path / "photos"
    write_image(photos / "salt.png", noisy)
    out = tmp_path / "out"
    subprocess.run(
        [
            *restore,
            str(ROOT / "examples/pipelines/denoise.yaml"),
            str(photos),
            "-o",
            str(out),
            "--set",
            "denoise.uses=median.denoise",
            "--quiet",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    restored = read_image(out / "salt.png").pixels
    assert np.abs(restored - clean).max() < 1 / 255
    gone = subprocess.run(
        [*restore, "plugins", "--json"],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": ""},
        check=True,
    )
    assert "median" not in {p["name"] for p in json.loads(gone.stdout)}
