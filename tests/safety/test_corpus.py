"""Every case of the hostile-input corpus (corpus.py) through ``restore run``.

The invariants checked on each, whatever the case: no exception or traceback; the
right exit code; inputs unchanged; nothing created or changed outside OUT; files
already in OUT unchanged (unless --overwrite replaced the output of a done input);
every done input has all its outputs, written by this run, and they decode; a
failed input has none and a line (not a table row) naming it; no hidden or
temporary leftovers in OUT; the summary line agrees with what is on disk. A
refused command (exit 2) prints its error once, naming the file or option, and
writes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from corpus import ANY, CASES, DONE, FAILED, NOT_DONE, SKIPPED, Case, World
from harness import (
    changes,
    clean_output,
    error_line_problems,
    feeding,
    flatten,
    hidden,
    invoke,
    mentions,
    message_lines,
    snapshot,
    summary,
)

from restore.io.images import read_image


def command(w: World, extra: list[str]) -> list[object]:
    return ["run", w.pipeline, w.source, "-o", w.out, "-q", "--tile", "0", *extra]


def decode_problem(path: Path, size: tuple[int, int] | None = None) -> str | None:
    try:
        image = read_image(path)
    except Exception as error:
        return f"output {path.name!r} does not decode: {error}"
    if size is not None and image.pixels.shape[:2] != size:
        return f"output {path.name!r} is {image.pixels.shape[:2]}, expected {size}"
    return None


@pytest.fixture(autouse=True)
def _allow_cleanup(tmp_path: Path):
    yield
    for folder, dirs, _ in os.walk(tmp_path):  # chmod 000 folders would block cleanup
        for d in dirs:
            path = Path(folder, d)
            if not path.is_symlink():
                path.chmod(0o755)


def run_case(case: Case, root: Path) -> None:
    if case.needs_non_root and os.geteuid() == 0:
        pytest.skip("running as root: chmod 000 does not stop reads")
    w = World(root)
    case.build(w)
    w.write_pipeline()
    assert w.out is not None
    inputs = {p: snapshot(p) for p in w.expect}
    outside = snapshot(root, exclude=w.out)
    for extra in w.pre_runs:
        earlier = invoke(command(w, extra))
        clean_output(earlier, "the earlier run")
        assert earlier.exit_code == 0, f"the earlier run failed:\n{earlier.output}"
    before = snapshot(w.out)
    with feeding(w.fifos):
        result = invoke(command(w, w.args))
    output = clean_output(result, "restore run")
    after = snapshot(w.out)
    problems = check(case, w, result.exit_code, output, before, after)
    problems += [f"an input changed: {p}" for p in w.expect if snapshot(p) != inputs[p]]
    problems += [f"outside OUT: {c}" for c in changes(outside, snapshot(root, exclude=w.out))]
    header = f"case {case}: {len(problems)} problem(s):"
    assert not problems, "\n".join(
        [header, *(f"  - {p}" for p in problems), "--- output ---", output]
    )


def check(case: Case, w: World, code: int, output: str, before: dict, after: dict) -> list[str]:
    problems: list[str] = []
    assert w.out is not None
    overwrite = "--overwrite" in w.args
    created = {k: e for k, e in after.items() if before.get(k) != e}
    new_files = {k for k, e in created.items() if e.kind == "file"}
    leftovers = hidden(created)
    if leftovers:
        problems.append(f"hidden or temporary entries left in OUT: {leftovers}")
    by_lower: dict[str, list[str]] = {}
    for key, entry in after.items():
        if entry.kind == "file":
            by_lower.setdefault(key.lower(), []).append(key)

    def written(path: Path) -> str | None:
        """The OUT entry this run wrote for expected output ``path`` (matched ignoring case)."""
        key = str(path.relative_to(w.out)).lower()  # type: ignore[arg-type]
        return next((k for k in by_lower.get(key, []) if k in new_files), None)

    expected_codes = case.code if isinstance(case.code, tuple) else (case.code,)
    counts = summary(output)
    if code == 2 or case.code == 2:
        if code != 2:
            problems.append(f"exit code {code}: the command should be refused (2) before the batch")
        elif 2 not in expected_codes:
            problems.append("refused with exit code 2, but the batch should have run")
        if case.error_names:
            problems += error_line_problems(output, case.error_names)
        if new_files:
            problems.append(f"a refused command wrote into OUT: {sorted(new_files)}")
        kept = {k: after[k] for k in before if k in after}
        problems += [f"in OUT: {c}" for c in changes(before, kept)]
        return problems

    if counts is None:
        return [*problems, f"no summary line ('N done, N skipped, N failed'), exit code {code}"]
    wanted = case.code if case.code is not None else (1 if counts.failed else 0)
    if code not in (expected_codes if case.code is not None else (wanted,)):
        problems.append(f"exit code {code}, expected {wanted} ({counts})")
    if any(s == FAILED for s in w.expect.values()) and code != 1:
        problems.append(f"an input must fail, so the exit code must be 1, not {code}")

    # Files that were in OUT before: unchanged, unless --overwrite replaced an output.
    done_outputs: set[str] = set()
    for key, entry in before.items():
        now = after.get(key)
        if now == entry:
            continue
        if now is None:
            problems.append(f"a file already in OUT was removed: {key!r}")
        elif not overwrite:
            problems.append(f"a file already in OUT was replaced without --overwrite: {key!r}")

    if case.mode == "collision":
        total = len(w.expect)
        if counts.done + counts.skipped + counts.failed != total:
            problems.append(f"{counts} for {total} inputs")
        per_input = len(w.output_spec)
        if len(new_files) != per_input * counts.done:
            problems.append(
                f"{counts.done} inputs reported done but {len(new_files)} output files written "
                f"({per_input} each expected): two done inputs share an output? "
                f"{sorted(new_files)}"
            )
        for key in sorted(new_files):
            if (problem := decode_problem(w.out / key)) is not None:
                problems.append(problem)
        return problems

    lines = message_lines(output)
    actually_done = 0
    undone_free = 0  # inputs allowed to be failed or ignored that were not done
    for path, status in w.expect.items():
        outputs = w.outputs_of(path)
        found = [written(o) for o in outputs]
        present = [k for k in found if k is not None]
        label = str(path.relative_to(w.root))
        if present and len(present) != len(outputs):
            missing = [o.name for o, k in zip(outputs, found, strict=True) if k is None]
            problems.append(
                f"{label!r}: only some outputs were written ({present}; missing {missing}): "
                "an image's outputs must appear all together or not at all"
            )
        complete = bool(present) and len(present) == len(outputs)
        actually_done += complete
        if status == DONE and not complete:
            problems.append(f"{label!r} should be done: outputs {[o.name for o in outputs]}")
        if status in (FAILED, SKIPPED, NOT_DONE) and present:
            problems.append(f"{label!r} should be {status} but outputs were written: {present}")
        if status in (ANY, NOT_DONE) and not complete:
            undone_free += 1
        if complete:
            size = w.sizes.get(path)
            for key, spec in zip(found, w.output_spec, strict=True):
                problem = decode_problem(w.out / key, None if spec[1] else size)  # type: ignore[operator]
                if problem:
                    problems.append(f"{label!r}: {problem}")
                done_outputs.add(key.lower())  # type: ignore[union-attr]
        if status == FAILED and w.mentions[path] and not present:
            tokens = w.mentions[path]
            if path in w.either:
                tokens = ((path.name, *(o.name for o in outputs)),)
            if not any(mentions(line, tokens) for line in lines):
                problems.append(f"{label!r} failed without a message line mentioning {tokens}")

    expected = {s: sum(v == s for v in w.expect.values()) for s in (DONE, FAILED, SKIPPED)}
    if case.mode == "exact":
        if counts.done != actually_done:
            problems.append(f"summary says {counts.done} done, {actually_done} inputs have outputs")
        if counts.skipped != expected[SKIPPED]:
            problems.append(f"summary says {counts.skipped} skipped, expected {expected[SKIPPED]}")
        if not expected[FAILED] <= counts.failed <= expected[FAILED] + undone_free:
            problems.append(
                f"summary says {counts.failed} failed, expected {expected[FAILED]}"
                + (f" to {expected[FAILED] + undone_free}" if undone_free else "")
            )
        stray = sorted(k for k in new_files if k.lower() not in done_outputs)
        if stray:
            problems.append(f"files in OUT that belong to no done input: {stray}")
    elif counts.done < expected[DONE]:
        problems.append(f"summary says {counts.done} done, expected at least {expected[DONE]}")
    if overwrite:
        replaced = [
            k for k, e in before.items() if after.get(k) != e and k.lower() not in done_outputs
        ]
        problems += [
            f"--overwrite replaced {k!r}, which is no output of a done input" for k in replaced
        ]

    flat = flatten(output)
    for name in w.literal:
        if flatten(name) not in flat:
            problems.append(f"the name {name!r} does not appear literally in the output")
    return problems


@pytest.mark.parametrize("case", CASES, ids=str)
def test_corpus_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)


PIPELINE_CASES = [c for c in CASES if c.check_too]


@pytest.mark.parametrize("case", PIPELINE_CASES, ids=str)
def test_check_rejects_bad_pipeline(case: Case, tmp_path: Path) -> None:
    w = World(tmp_path)
    case.build(w)
    w.write_pipeline()
    everything = snapshot(tmp_path)
    result = invoke(["check", w.pipeline])
    output = clean_output(result, "restore check")
    problems = [] if result.exit_code == 2 else [f"exit code {result.exit_code}, expected 2"]
    errors = [line for line in output.splitlines() if "error" in line.lower()]
    if not errors:
        problems.append("no error line")
    elif not any(any(n in line for n in case.error_names) for line in errors):
        problems.append(f"no error line names {case.error_names}")
    problems += [f"changed: {c}" for c in changes(everything, snapshot(tmp_path))]
    assert not problems, f"check {case}: " + "; ".join(problems) + f"\n--- output ---\n{output}"


def test_corpus_is_large_and_covers_every_class() -> None:
    from corpus import CLASSES, cases_by_class

    counts = cases_by_class()
    assert len(CASES) >= 100, counts
    assert all(counts[k] >= 5 for k in CLASSES), counts
