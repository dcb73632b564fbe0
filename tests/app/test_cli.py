"""The restore command line, run in-process on real files with the built-in plugins."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from restore.api.errors import ImageWriteError, RestoreError
from restore.app.cli.main import app
from restore.io.images import read_image, write_image
from restore.testing import synthetic_photo

ROOT = Path(__file__).resolve().parents[2]
SHARPEN = str(ROOT / "examples" / "pipelines" / "sharpen.yaml")
INPAINT = str(ROOT / "examples" / "pipelines" / "inpaint.yaml")
runner = CliRunner()


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    write_image(folder / "a.png", synthetic_photo(40, 60, seed=1))
    write_image(folder / "nested" / "b.jpg", synthetic_photo(50, 30, seed=2))
    (folder / "nested" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "notes.txt").write_text("not an image, ignored")
    return folder


def snapshot(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_folder_with_a_corrupt_file(photos: Path, tmp_path: Path) -> None:
    before = snapshot(photos)
    out = tmp_path / "out"
    result = runner.invoke(app, [SHARPEN, str(photos), "-o", str(out), "--tile", "32"])
    assert result.exit_code == 1, result.output
    assert (out / "a.png").exists() and (out / "nested" / "b.jpg").exists()
    assert not (out / "nested" / "broken.jpg").exists()
    assert "broken.jpg" in result.output and "failed" in result.output
    assert "2 done, 0 skipped, 1 failed" in result.output
    assert snapshot(photos) == before  # inputs untouched
    assert read_image(out / "a.png").pixels.shape == (40, 60, 3)
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]


def test_skip_existing_and_overrides(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner.invoke(
        app, [SHARPEN, str(photos / "a.png"), "-o", str(out), "--set", "sharpen.strength=0"]
    )
    # strength 0 is the identity: the override reached the stage
    np.testing.assert_allclose(
        read_image(out / "a.png").pixels, read_image(photos / "a.png").pixels, atol=1 / 255
    )
    again = runner.invoke(app, [SHARPEN, str(photos / "a.png"), "-o", str(out), "--skip-existing"])
    assert again.exit_code == 0 and "0 done, 1 skipped, 0 failed" in again.output


def test_extra_outputs_and_output_inside_input(photos: Path) -> None:
    (photos / "nested" / "broken.jpg").unlink()
    out = photos / "restored"
    # Later runs must not pick up their own outputs as inputs, and replace them only
    # when asked to.
    for extra, counts in [
        ([], "2 done, 0 skipped, 0 failed"),
        (["--skip-existing"], "0 done, 2 skipped, 0 failed"),
        ([], "0 done, 0 skipped, 2 failed"),
        (["--overwrite"], "0 done, 0 skipped, 2 failed"),  # there, all files are inputs' kin
    ]:
        result = runner.invoke(app, ["run", INPAINT, str(photos), "-o", str(out), "-q", *extra])
        assert counts in result.output, result.output
    assert (out / "a.mask.png").exists() and (out / "nested" / "b.mask.png").exists()
    assert read_image(out / "a.mask.png").pixels.shape == (40, 60, 1)


def test_never_writes_over_an_input(photos: Path) -> None:
    before = snapshot(photos)
    result = runner.invoke(app, [SHARPEN, str(photos / "a.png"), "-o", str(photos)])
    assert result.exit_code == 1 and "a.png: already exists" in result.output
    forced = runner.invoke(app, [SHARPEN, str(photos / "a.png"), "-o", str(photos), "--overwrite"])
    assert forced.exit_code == 1 and "refusing to overwrite an input file" in forced.output
    assert snapshot(photos) == before


def test_check_command(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["a-long-folder-name"] * 6) / "old-photo.yaml"
    deep.parent.mkdir(parents=True)
    deep.write_text((ROOT / "examples" / "pipelines" / "old-photo.yaml").read_text())
    ok = runner.invoke(app, ["check", str(deep)])
    assert ok.exit_code == 0 and f"{deep}: ok (dejpeg -> denoise -> damage -> inpaint" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "nodes:\n  - id: x\n    uses: denoise.nlmean\n  - id: y\n    uses: "
        "sharpen.unsharp\n    params: {strength: -3}\n"
    )
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 2
    assert "unknown stage 'denoise.nlmean'" in result.output and "denoise.nlmeans" in result.output
    assert "parameter 'strength' = -3" in result.output


def test_plugins_command() -> None:
    result = runner.invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0
    stages = {s["name"]: s for p in json.loads(result.output) for s in p["stages"]}
    assert stages["sharpen.unsharp"]["params"]["strength"]["default"] == 0.8
    text = runner.invoke(app, ["plugins"])
    assert "denoise.nlmeans" in text.output and "strength" in text.output


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    missing = runner.invoke(app, [SHARPEN, str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "nowhere: no such file or folder" in missing.output
    nopipe = runner.invoke(app, [str(tmp_path / "none.yaml"), str(tmp_path)])
    assert nopipe.exit_code == 2 and "none.yaml: cannot read" in nopipe.output


def test_sidecar_sets_parameters_for_one_image(photos: Path, tmp_path: Path) -> None:
    (photos / "nested" / "broken.jpg").unlink()
    (photos / "a.restore.yaml").write_text("sharpen: {strength: 0}\n")
    (photos / "nested" / "b.restore.yaml").write_text("sharpen: {strength: 99}\n")
    out = tmp_path / "out"
    result = runner.invoke(app, [SHARPEN, str(photos), "-o", str(out), "-q"])
    assert result.exit_code == 1
    assert "b.restore.yaml: node 'sharpen' (sharpen.cnn): parameter 'strength' = 99" in (
        result.output
    )
    np.testing.assert_allclose(  # strength 0 from the sidecar: the identity
        read_image(out / "a.png").pixels, read_image(photos / "a.png").pixels, atol=1 / 255
    )


def test_skip_existing_when_a_bypassed_node_wrote_no_output(photos: Path, tmp_path: Path) -> None:
    out, image = tmp_path / "out", str(photos / "a.png")
    disabled = ["--set", "damage.enabled=false", "-o", str(out)]
    first = runner.invoke(app, [INPAINT, image, *disabled])
    assert first.exit_code == 0 and (out / "a.png").exists() and not (out / "a.mask.png").exists()
    again = runner.invoke(app, [INPAINT, image, *disabled, "--skip-existing"])
    assert again.exit_code == 0 and "0 done, 1 skipped, 0 failed" in again.output


def test_a_file_the_batch_did_not_write_is_never_replaced(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "nested").mkdir(parents=True)
    (out / "nested" / "b.mask.png").write_bytes(b"someone else's")
    (photos / "nested" / "broken.jpg").unlink()
    result = runner.invoke(app, [INPAINT, str(photos), "-o", str(out), "--skip-existing"])
    assert result.exit_code == 1 and "1 done, 0 skipped, 1 failed" in result.output
    assert "b.mask.png: already exists" in result.output
    assert (out / "nested" / "b.mask.png").read_bytes() == b"someone else's"
    assert not (out / "nested" / "b.jpg").exists()  # all of an image's outputs, or none


def test_a_file_and_a_folder_of_the_same_name_collide_before_any_work(tmp_path: Path) -> None:
    photos, out = tmp_path / "photos", tmp_path / "out"
    write_image(photos / "c.jpg", synthetic_photo(24, 24, seed=1))
    write_image(photos / "c.mask.png" / "d.png", synthetic_photo(24, 24, seed=2))
    result = runner.invoke(app, [INPAINT, str(photos), "-o", str(out), "-q"])
    assert result.exit_code == 1 and "1 done, 0 skipped, 1 failed" in result.output
    assert "same file as that of" in result.output
    assert read_image(out / "c.mask.png").pixels.shape == (24, 24, 1)


def test_names_are_printed_exactly(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    for name in ("bad [red]file.png", "esc\x1b[31m.png", "cr\rx.png"):
        (photos / name).parent.mkdir(parents=True, exist_ok=True)
        (photos / name).write_bytes(b"not an image")
    result = runner.invoke(app, [SHARPEN, str(photos), "-o", str(tmp_path / "out"), "-q"])
    assert result.exit_code == 1 and "0 done, 0 skipped, 3 failed" in result.output
    assert "bad [red]file.png: not a recognised image file" in result.output
    assert "esc\\x1b[31m.png" in result.output and "\x1b[31m" not in result.output
    assert "cr\\rx.png" in result.output and "\r" not in result.output


def test_library_save_never_replaces_its_source(tmp_path: Path) -> None:
    from restore import Pipeline

    path = write_image(tmp_path / "in.png", synthetic_photo(24, 32, seed=3))
    before = path.read_bytes()
    result = Pipeline.from_yaml(SHARPEN).run(path)
    with pytest.raises(ImageWriteError, match="refusing to overwrite an input"):
        result.save(path)
    with pytest.raises(RestoreError, match="no output 'nope'"):
        result.save(tmp_path / "x.png", "nope")
    assert path.read_bytes() == before


def test_folders_joined_by_a_link_in_the_output_folder_collide(tmp_path: Path) -> None:
    photos, out = tmp_path / "photos", tmp_path / "out"
    write_image(photos / "sub0" / "a.png", synthetic_photo(24, 24, seed=1))
    write_image(photos / "sub1" / "a.png", synthetic_photo(24, 24, seed=2))
    (out / "sub1").mkdir(parents=True)
    (out / "sub0").symlink_to("sub1")
    result = runner.invoke(app, [SHARPEN, str(photos), "-o", str(out), "-q", "--overwrite"])
    assert result.exit_code == 1 and "1 done, 0 skipped, 1 failed" in result.output
    assert "same file as that of" in result.output
