"""The layers at run time: what a pipeline run and the CLI load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[2]


def loaded_after(code: str) -> list[str]:
    """Module names in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_a_pipeline_run_loads_no_lab_module() -> None:
    modules = loaded_after(
        "import numpy as np\n"
        "from restore import Pipeline\n"
        "pipeline = Pipeline.from_yaml('examples/pipelines/denoise.yaml')\n"
        "pipeline.run(np.full((32, 32, 3), 0.5, np.float32))"
    )
    assert "restore.engine.executor" in modules  # it did run
    assert not [m for m in modules if m.startswith("restore.lab") or m.endswith(".recipes")]


def test_import_restore_and_the_cli_load_no_torch() -> None:
    assert "torch" not in loaded_after("import restore")
    modules = loaded_after("from restore.app.cli.main import app")
    assert "restore.lab.commands" in modules  # the lab's commands are registered
    assert "torch" not in modules and "restore.lab.training" not in modules
