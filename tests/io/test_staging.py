"""restore.io.staging: one image's outputs appear all together or not at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pytest

from restore.api.errors import ImageWriteError
from restore.io.staging import STAGING_FOLDER, Staging, clean_leftovers


@dataclass
class Item:
    """Stands in for restore.io.images.Encoded: a target and bytes to write."""

    path: Path
    data: bytes = b"new"
    warnings: list[str] = field(default_factory=list)

    def encode(self, fh: BinaryIO) -> None:
        if self.data == b"FAIL":
            raise OSError(28, "No space left on device")
        fh.write(self.data)


def everything(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_commit_writes_all_and_leaves_nothing_else(tmp_path: Path) -> None:
    with Staging(tmp_path) as staging:
        written = staging.commit([Item(tmp_path / "a.mask.png"), Item(tmp_path / "sub" / "a.png")])
    assert written == [tmp_path / "a.mask.png", tmp_path / "sub" / "a.png"]
    assert everything(tmp_path) == {"a.mask.png": b"new", "sub/a.png": b"new"}
    assert not (tmp_path / STAGING_FOLDER).exists()


def test_a_failed_output_takes_the_others_back(tmp_path: Path) -> None:
    with Staging(tmp_path) as staging, pytest.raises(ImageWriteError, match="No space"):
        staging.commit([Item(tmp_path / "a.mask.png"), Item(tmp_path / "a.png", b"FAIL")])
    assert everything(tmp_path) == {}


def test_existing_files_are_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"old")
    with Staging(tmp_path) as staging, pytest.raises(ImageWriteError, match="already exists"):
        staging.commit([Item(tmp_path / "a.mask.png"), Item(tmp_path / "a.png")])
    assert everything(tmp_path) == {"a.png": b"old"}


def test_overwrite_replaces_outputs_but_never_inputs(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"old")
    (tmp_path / "input.png").write_bytes(b"photo")
    with Staging(tmp_path) as staging:
        staging.commit([Item(tmp_path / "a.png")], overwrite=True)
        with pytest.raises(ImageWriteError, match="input"):
            staging.commit(
                [Item(tmp_path / "input.png")], overwrite=True, protect=[tmp_path / "input.png"]
            )
    assert everything(tmp_path) == {"a.png": b"new", "input.png": b"photo"}


def test_a_link_out_of_the_output_folder_is_refused(tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "sub").symlink_to(elsewhere)
    with Staging(out) as staging, pytest.raises(ImageWriteError, match="outside"):
        staging.commit([Item(out / "sub" / "a.png")])
    assert everything(elsewhere) == {}


def interrupt_commit(out: Path, linked: int, overwrite: bool = False) -> None:
    """Run a commit of three files in a child process that dies (os._exit) after
    linking ``linked`` of them, as a kill -9 would leave it."""
    script = f"""
import os, sys
from pathlib import Path
import restore.io.staging as staging
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_staging import Item
real, count = staging._place, [0]
def place(temporary, target, overwrite):
    if count[0] == {linked}:
        os._exit(9)
    count[0] += 1
    real(temporary, target, overwrite)
staging._place = place
out = Path({str(out)!r})
with staging.Staging(out) as s:
    s.commit(
        [Item(out / "x.mask.png"), Item(out / "x.edges.png"), Item(out / "x.png")],
        overwrite={overwrite},
    )
"""
    done = subprocess.run([sys.executable, "-c", script], check=False)
    assert done.returncode == 9


@pytest.mark.parametrize("linked", [0, 1, 2])
def test_the_next_batch_rolls_back_what_a_killed_one_left(tmp_path: Path, linked: int) -> None:
    (tmp_path / "keep.png").write_bytes(b"someone else's")
    interrupt_commit(tmp_path, linked)
    assert len([p for p in tmp_path.rglob("*") if p.is_file()]) > 1
    clean_leftovers(tmp_path)
    assert everything(tmp_path) == {"keep.png": b"someone else's"}
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_a_live_batch_is_left_alone(tmp_path: Path) -> None:
    with Staging(tmp_path) as staging:
        temporary = staging._temporary(tmp_path / "a.png")
        temporary.write_bytes(b"being written")
        assert clean_leftovers(tmp_path) == []
        assert temporary.exists() and staging.folder.is_dir()


def test_temporaries_of_dead_plain_writes_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()
    (tmp_path / "sub").mkdir()
    left = tmp_path / "sub" / f".restore-{dead}-00ff00ff.tmp"
    left.write_bytes(b"half")
    mine = tmp_path / f".restore-{os.getpid()}-00ff00ff.tmp"
    mine.write_bytes(b"being written")
    assert clean_leftovers(tmp_path) == [left]
    assert mine.exists()


def test_no_folder_is_made_through_a_link_out_of_the_output_folder(tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "sub").symlink_to(elsewhere)
    with Staging(out) as staging, pytest.raises(ImageWriteError, match="outside"):
        staging.commit([Item(out / "sub" / "deep" / "a.png")])
    assert list(elsewhere.iterdir()) == []


def test_a_linked_staging_folder_is_refused(tmp_path: Path) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / STAGING_FOLDER).symlink_to(elsewhere)
    with pytest.raises(ImageWriteError, match="plain folder"):
        clean_leftovers(out)
    with pytest.raises(ImageWriteError, match="plain folder"), Staging(out):
        pass
    assert list(elsewhere.iterdir()) == []


def test_a_forged_journal_removes_nothing_it_did_not_write(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    out = tmp_path / "out"
    dead = out / STAGING_FOLDER / "1-deadbeef"
    dead.mkdir(parents=True)
    (dead / "lock").touch()
    (out / "a.png").write_text("keep me too")
    forged = [
        [str(victim), str(victim)],
        [str(out / "a.png"), str(out / "a.png")],
        [str(out / ".restore-1-deadbeef-1.tmp"), str(victim)],
    ]
    (dead / "journal.json").write_text(json.dumps(forged))
    clean_leftovers(out)
    assert victim.read_text() == "keep me" and (out / "a.png").read_text() == "keep me too"


def test_long_names_fit(tmp_path: Path) -> None:
    target = tmp_path / ("L" * 240 + ".mask.png")
    with Staging(tmp_path) as staging:
        assert staging.commit([Item(target)]) == [target]


@pytest.mark.parametrize("linked", [0, 1, 2])
def test_an_interrupted_overwrite_puts_the_old_outputs_back(tmp_path: Path, linked: int) -> None:
    old = {"x.mask.png": b"old mask", "x.edges.png": b"old edges", "x.png": b"old image"}
    for name, data in old.items():
        (tmp_path / name).write_bytes(data)
    interrupt_commit(tmp_path, linked, overwrite=True)
    clean_leftovers(tmp_path)
    assert everything(tmp_path) == old
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(old)
