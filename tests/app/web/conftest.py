"""Fixtures of the web service tests: test pipelines, the test-only stages
installed as a plugin (so that spawned workers find them too), tiny images."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).parent
EXAMPLES = HERE.parents[2] / "examples" / "pipelines"

PIPELINES = {
    "restore": """
name: Restore
description: Optional sharpening, then dust and scratches found and filled.
nodes:
  - id: sharpen
    uses: sharpen.unsharp
    enabled: false
    params: {strength: 0.5}
  - id: damage
    uses: inpaint.damage_mask
  - id: inpaint
    uses: inpaint.opencv
    inputs: {image: sharpen, mask: damage.mask}
outputs:
  - node: inpaint
  - node: damage
    port: mask
    suffix: .mask
""",
    "slow": """
name: Slow
nodes:
  - id: slow
    uses: webtest.slow
""",
    "crash": """
name: Crash
nodes:
  - id: crash
    uses: webtest.crash
""",
}


@pytest.fixture(scope="session")
def web_plugins(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``webstages`` installed as the plugin ``webtest`` for this process and its children."""
    site = tmp_path_factory.mktemp("site")
    info = site / "restore_webtest-0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: restore-webtest\nVersion: 0.0\n")
    (info / "entry_points.txt").write_text("[restore.plugins]\nwebtest = webstages\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(HERE))
        patch.syspath_prepend(str(site))
        patch.setenv("RESTORE_PLUGINS", os.environ.get("RESTORE_PLUGINS", "") + ",webtest")
        yield


@pytest.fixture(scope="session")
def pipelines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pipelines folder: cheap classical stages, the test stages and denoise (never run)."""
    folder = tmp_path_factory.mktemp("pipelines")
    for name, text in PIPELINES.items():
        (folder / f"{name}.yaml").write_text(text)
    (folder / "denoise.yaml").write_text((EXAMPLES / "denoise.yaml").read_text())
    return folder
