"""The safety checks themselves catch what they are meant to catch (no tautologies)."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from corpus import DONE, FAILED, Case, World, encode
from harness import Entry, changes, clean_output, error_line_problems, hidden, snapshot
from test_corpus import check

CASE = Case("meta", "image", lambda w: None)


def test_error_line_checks() -> None:
    assert error_line_problems("error: pipe.yaml: invalid YAML\n", ["pipe.yaml"]) == []
    assert error_line_problems("all fine\n", ["pipe.yaml"]) == [
        "no error line (a line containing 'error')"
    ]
    twice = error_line_problems("error: --device tpu\nerror: --device tpu\n", ["--device"])
    assert len(twice) == 1 and "2 times" in twice[0]
    unnamed = error_line_problems("error: something broke\n", ["--format"])
    assert len(unnamed) == 1 and "names none" in unnamed[0]


def test_snapshots_see_contents_times_and_new_entries(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"1")
    before = snapshot(tmp_path)
    os.utime(tmp_path / "a.png", ns=(0, 0))
    (tmp_path / "new").mkdir()
    found = changes(before, snapshot(tmp_path))
    assert found == ["'a.png': modification time changed", "created 'new' (dir)"]
    assert hidden(["a.png", ".a.tmp1.png", ".restore-partial/x/lock", "b.tmp3.png"]) == [
        ".a.tmp1.png",
        ".restore-partial/x/lock",
        "b.tmp3.png",
    ]


def test_clean_output_rejects_escaped_exceptions_and_tracebacks() -> None:
    escaped = SimpleNamespace(exception=RecursionError("deep"), output="", exit_code=1)
    with pytest.raises(AssertionError, match="RecursionError escaped"):
        clean_output(escaped, "run")  # type: ignore[arg-type]
    printed = SimpleNamespace(exception=None, output="Traceback (most recent", exit_code=1)
    with pytest.raises(AssertionError, match="a traceback"):
        clean_output(printed, "run")  # type: ignore[arg-type]
    fine = SimpleNamespace(exception=SystemExit(2), output="error: x", exit_code=2)
    assert clean_output(fine, "run") == "error: x"  # type: ignore[arg-type]


def file(data: bytes) -> Entry:
    return Entry("file", data, 1)


def test_corpus_checks_catch_missing_partial_shared_and_silent_failures(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.image("a.png")
    w.raw("bad.png", b"junk", FAILED)
    assert w.out is not None
    w.out.mkdir()
    summary = "1 done, 0 skipped, 1 failed"
    # The done input has only its mask, the failed one left an output and no message.
    for name, data in (("a.mask.png", encode("png")), ("bad.png", encode("png"))):
        (w.out / name).write_bytes(data)
    after = {"a.mask.png": file(encode("png")), "bad.png": file(encode("png"))}
    problems = "\n".join(check(CASE, w, 1, summary, {}, after))
    assert "only some outputs were written" in problems
    assert "'in/a.png' should be done" in problems
    assert "'in/bad.png' should be failed but outputs were written" in problems
    assert "summary says 1 done, 0 inputs have outputs" in problems

    # Both inputs claim done, one output pair written: the collision check sees it.
    collision = Case("meta", "collision", lambda w: None, mode="collision")
    w.expect = {tmp_path / "in" / "x.png": DONE, tmp_path / "in" / "x.PNG": DONE}
    after = {"x.png": file(encode("png")), "x.mask.png": file(encode("png"))}
    for name in after:
        (w.out / name).write_bytes(encode("png"))
    shared = check(collision, w, 0, "2 done, 0 skipped, 0 failed", {}, after)
    assert any("share an output" in p for p in shared), shared


def test_corpus_checks_catch_replaced_foreign_files(tmp_path: Path) -> None:
    w = World(tmp_path)
    w.blocked("a.png")
    before = {"a.png": file(b"someone else's")}
    after = {"a.png": file(encode("png")), "a.mask.png": file(encode("png"))}
    assert w.out is not None
    w.out.mkdir()
    for name, entry in after.items():
        (w.out / name).write_bytes(entry.data)  # type: ignore[arg-type]
    problems = check(CASE, w, 0, "1 done, 0 skipped, 0 failed", before, after)
    assert any("replaced without --overwrite" in p for p in problems), problems
    assert any("exit code must be 1" in p for p in problems), problems
