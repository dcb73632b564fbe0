"""restore.io.files: discovery that survives odd file systems, and safe output names."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from restore.api.errors import RestoreError
from restore.api.stage import PortKind
from restore.io.files import discover, name_key, output_extension, output_path


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_discovery_survives_loops_and_broken_links(tmp_path: Path) -> None:
    touch(tmp_path / "a.png")
    touch(tmp_path / "sub" / "b.jpg")
    (tmp_path / "sub" / "up").symlink_to("..")  # a folder loop
    (tmp_path / "loop.png").symlink_to("loop.png")
    (tmp_path / "gone.png").symlink_to("missing.png")
    (tmp_path / "folder.png").mkdir()
    touch(tmp_path / ".hidden.png")
    touch(tmp_path / "notes.txt")
    found = {item.relative.as_posix(): item.problem for item in discover(tmp_path)}
    assert found == {
        "a.png": None,
        "gone.png": "broken symbolic link",
        "loop.png": "symbolic link loop",
        "sub/b.jpg": None,
    }


def test_linked_folders_are_followed_once(tmp_path: Path) -> None:
    touch(tmp_path / "real" / "a.png")
    (tmp_path / "alias").symlink_to("real")
    found = [item.relative.as_posix() for item in discover(tmp_path)]
    assert found == ["alias/a.png"]  # the same folder is walked once, first name first


def test_the_output_folder_is_not_an_input(tmp_path: Path) -> None:
    touch(tmp_path / "a.png")
    touch(tmp_path / "out" / "a.png")
    assert [i.relative for i in discover(tmp_path, exclude=tmp_path / "out")] == [Path("a.png")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_an_unreadable_folder_is_reported(tmp_path: Path) -> None:
    touch(tmp_path / "locked" / "a.png")
    (tmp_path / "locked").chmod(0)
    try:
        found = discover(tmp_path)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert [i.problem for i in found] == ["cannot list folder (Permission denied)"]


@pytest.mark.parametrize("value", ["png", ".PNG", " Tif "])
def test_formats(value: str) -> None:
    assert output_extension(value) == "." + value.strip().lower().removeprefix(".")


@pytest.mark.parametrize("value", ["/../../evil.png", "gif", "", ".", "png/..", "p\x00ng"])
def test_bad_formats(value: str) -> None:
    with pytest.raises(RestoreError, match="--format"):
        output_extension(value)


def test_output_paths(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert output_path(out, Path("a/b.TIF"), "", PortKind.IMAGE, None) == out / "a" / "b.tif"
    assert output_path(out, Path("b.jpg"), ".mask", PortKind.MASK, ".tif") == out / "b.mask.png"
    for relative, suffix in [(Path("../x.png"), ""), (Path("/etc/x.png"), ""), (Path("x"), "/")]:
        with pytest.raises(RestoreError, match="leave the output folder"):
            output_path(out, relative, suffix, PortKind.IMAGE, ".png")


def test_name_keys_ignore_case_and_unicode_form() -> None:
    assert name_key(Path("A/Coll.PNG")) == name_key(Path("a/coll.png"))
    assert name_key(Path("caf\u00e9.png")) == name_key(Path("cafe\u0301.png"))
