"""Property tests: random pipelines, overrides and input trees.

(a) Whatever the pipeline text, structure or ``--set`` value, ``restore check``
exits 0 or 2 without a traceback and ``Pipeline.from_yaml`` raises nothing but a
``RestoreError``; a pipeline whose output suffix holds a path separator or NUL is
refused. (b) Whatever the input tree (names differing only in case, extensions in
any case, masks beside images, nested folders, ``--format``, files already in OUT),
``restore run`` writes only into OUT, changes no file already there, and every done
input has its own complete outputs: no two done inputs share one.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from corpus import TWO_OUTPUTS, encode
from harness import changes, clean_output, hidden, invoke, snapshot, summary
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from restore import Pipeline
from restore.api.errors import RestoreError
from restore.io.images import read_image

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    database=None,
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- (a) pipelines and overrides ---------------------------------------------------

YAML_PIECES = [
    *"[]{}:,-&*!|>'\"%@`#?<= \n\t\\",
    *("nodes", "id", "uses", "sharpen.unsharp", "params", "outputs", "suffix", "port"),
    *("!!python/object:os.system", "!!python/name:os.getcwd", "!!binary", "!!set", "!!omap"),
    *("&a", "*a", "<<", "...", "---", "%YAML 1.1", "\x00", "\ufeff", "é", "\x85", "\u2028"),
    *("1e999", ".nan", "-.inf", "~", "0x1F", "0o17", "true", "null", "2001-12-14"),
]
yaml_text = st.lists(st.sampled_from(YAML_PIECES), max_size=60).map("".join)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)
structures = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
STAGE_NAMES = [
    "sharpen.unsharp",
    "inpaint.damage_mask",
    "inpaint.opencv",
    "denoise.nlmeans",
    "no.such",
]
NODE_IDS = ["sharpen", "damage", "fill", "input", "9bad", ""]
PARAMS = ["strength", "radius", "threshold", "size", "sigma", "method", "bogus"]
SUFFIX_PIECES = ["a", ".", "-", "_", " ", "/", "\\", "\x00", "..", "[", "]", "é", ".mask"]
suffixes = st.lists(st.sampled_from(SUFFIX_PIECES), max_size=6).map("".join)
nodes = st.fixed_dictionaries(
    {"id": st.sampled_from(NODE_IDS), "uses": st.sampled_from(STAGE_NAMES)},
    optional={
        "params": st.dictionaries(st.sampled_from(PARAMS), structures, max_size=3),
        "enabled": scalars,
        "when": st.sampled_from(["grayscale", "color", "sometimes"]),
        "inputs": st.dictionaries(
            st.sampled_from(["image", "mask"]),
            st.sampled_from(["input", "damage.mask", "sharpen", "x.y"]),
            max_size=2,
        ),
        "precision": st.sampled_from(["float32", "bfloat16", "float64"]),
    },
)
outputs = st.fixed_dictionaries(
    {"node": st.sampled_from(NODE_IDS)},
    optional={"port": st.sampled_from(["image", "mask", "nope"]), "suffix": suffixes},
)
pipelines = st.fixed_dictionaries(
    {"nodes": st.lists(nodes, max_size=3)},
    optional={"outputs": st.lists(outputs, max_size=3), "version": scalars, "name": scalars},
)


def check_cleanly(path: Path, overrides: list[str] = ()) -> int:  # type: ignore[assignment]
    """``restore check`` on ``path``: its exit code after asserting a clean exit."""
    args: list[object] = ["check", path]
    for override in overrides:
        args += ["--set", override]
    result = invoke(args)
    output = clean_output(result, "restore check")
    assert result.exit_code in (0, 2), f"exit code {result.exit_code}:\n{output}"
    if result.exit_code == 2:
        assert "error" in output.lower(), f"refused without an error line:\n{output}"
    return result.exit_code


def load_cleanly(path: Path, overrides: list[str] = ()) -> None:  # type: ignore[assignment]
    try:
        Pipeline.from_yaml(path, overrides=list(overrides))
    except RestoreError:
        pass
    except Exception as error:
        raise AssertionError(
            f"Pipeline.from_yaml raised {type(error).__name__} (not a RestoreError): {error}"
        ) from error


def with_file(data: bytes, test) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pipe.yaml"
        path.write_bytes(data)
        before = snapshot(Path(folder))
        test(path)
        assert changes(before, snapshot(Path(folder))) == [], "check wrote files"


@SETTINGS
@given(text=yaml_text)
def test_random_yaml_text_as_a_pipeline(text: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    with_file(data, lambda p: (check_cleanly(p), load_cleanly(p)))


@SETTINGS
@given(data=st.binary(max_size=300))
def test_random_bytes_as_a_pipeline(data: bytes) -> None:
    with_file(data, lambda p: (check_cleanly(p), load_cleanly(p)))


@SETTINGS
@given(structure=structures)
def test_random_structure_as_a_pipeline(structure: object) -> None:
    with_file(yaml.safe_dump(structure).encode(), lambda p: (check_cleanly(p), load_cleanly(p)))


@SETTINGS
@given(pipeline=pipelines)
def test_random_pipeline_shapes(pipeline: dict) -> None:
    def test(path: Path) -> None:
        code = check_cleanly(path)
        load_cleanly(path)
        bad = [
            o["suffix"]
            for o in pipeline.get("outputs") or []
            if any(c in o.get("suffix", "") for c in "/\\\x00")
        ]
        assert not (code == 0 and bad), f"accepted output suffixes {bad!r}"

    with_file(yaml.safe_dump(pipeline, allow_unicode=True).encode(), test)


VALID_NODES = [
    {"id": "sharpen", "uses": "sharpen.unsharp"},
    {"id": "damage", "uses": "inpaint.damage_mask"},
]
VALID_OUTPUTS = [{"node": "sharpen"}, {"node": "damage", "port": "mask"}]


@SETTINGS
@given(
    wanted=st.lists(
        st.tuples(st.sampled_from(range(len(VALID_OUTPUTS))), suffixes), min_size=1, max_size=3
    )
)
def test_output_suffixes_never_leave_the_output_folder(wanted: list[tuple[int, str]]) -> None:
    """A valid pipeline but for its output suffixes: one holding a path separator or
    NUL is refused; the others are accepted or refused, cleanly."""
    outputs = [{**VALID_OUTPUTS[i], "suffix": suffix} for i, suffix in wanted]
    pipeline = {"nodes": VALID_NODES, "outputs": outputs}
    bad = [s for _, s in wanted if any(c in s for c in "/\\\x00")]

    def test(path: Path) -> None:
        code = check_cleanly(path)
        load_cleanly(path)
        assert not (code == 0 and bad), f"check accepted output suffixes {bad!r}"

    with_file(yaml.safe_dump(pipeline, allow_unicode=True).encode(), test)


overrides = st.one_of(
    st.builds(lambda v: f"sharpen.strength={v}", yaml_text),
    st.builds(
        lambda node, param, v: f"{node}.{param}={v}",
        st.sampled_from([*NODE_IDS, "sharpen.x", "[", "!!a"]),
        st.sampled_from([*PARAMS, "enabled", "uses", "when", "precision", "", "a.b"]),
        yaml_text | structures.map(lambda s: yaml.safe_dump(s, default_flow_style=True).strip()),
    ),
    yaml_text,
)


@SETTINGS
@given(values=st.lists(overrides, min_size=1, max_size=3))
def test_random_overrides(values: list[str]) -> None:
    with_file(TWO_OUTPUTS.encode(), lambda p: (check_cleanly(p, values), load_cleanly(p, values)))


# -- (b) input trees ------------------------------------------------------------------

FOLDERS = ["", "d/", "D/", "d/e/"]
STEMS = ["a", "A", "b", "pic", "pic.mask", "Pic.MASK"]
EXTENSIONS = ["png", "PNG", "jpg", "JPG", "jpeg", "tif", "tiff", "webp", "bmp"]
names = st.tuples(st.sampled_from(FOLDERS), st.sampled_from(STEMS), st.sampled_from(EXTENSIONS))
trees = st.lists(names, min_size=1, max_size=6, unique_by=lambda n: f"{n[0]}{n[1]}.{n[2]}")
FORMAT_OF = {
    "png": "png",
    "jpg": "jpg",
    "jpeg": "jpg",
    "tif": "tif",
    "tiff": "tif",
    "webp": "webp",
    "bmp": "bmp",
}


def expected_outputs(name: tuple[str, str, str], fmt: str | None) -> list[str]:
    """OUT-relative paths of an input's main output and mask, lower-cased."""
    folder, stem, ext = name
    return [f"{folder}{stem}.{fmt or ext}".lower(), f"{folder}{stem}.mask.png".lower()]


@SETTINGS
@given(
    tree=trees,
    fmt=st.sampled_from([None, "png", "jpg", "tif"]),
    foreign=st.lists(names, max_size=2),
    seed=st.integers(0, 3),
)
def test_random_input_trees(
    tree: list[tuple[str, str, str]],
    fmt: str | None,
    foreign: list[tuple[str, str, str]],
    seed: int,
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        source, out, pipe = root / "in", root / "o1" / "o2" / "out", root / "pipe.yaml"
        pipe.write_text(TWO_OUTPUTS)
        out.parent.mkdir(parents=True)
        for i, (sub, stem, ext) in enumerate(tree):
            path = source / f"{sub}{stem}.{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(encode(FORMAT_OF[ext.lower()], 8, 12, seed=seed + i))
        foreign_paths = set()
        for sub, stem, ext in foreign:  # someone else's files where outputs may go
            path = out / f"{sub}{stem}.{(fmt or ext)}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"not restore's")
            foreign_paths.add(str(path.relative_to(out)).lower())
        outside = snapshot(root, exclude=out)
        before = snapshot(out)
        args: list[object] = ["run", pipe, source, "-o", out, "-q", "--tile", "0"]
        result = invoke(args + (["--format", fmt] if fmt else []))
        output = clean_output(result, "restore run")
        after = snapshot(out)

        problems = [f"outside OUT: {c}" for c in changes(outside, snapshot(root, exclude=out))]
        problems += [
            f"a file already in OUT changed: {k}" for k, e in before.items() if after.get(k) != e
        ]
        created = {k for k, e in after.items() if before.get(k) != e}
        new_files = sorted(k for k in created if after[k].kind == "file")
        problems += [f"hidden or temporary leftover: {k}" for k in hidden(created)]
        counts = summary(output)
        if counts is None:
            problems.append(f"no summary line (exit code {result.exit_code})")
        else:
            if counts.done + counts.skipped + counts.failed != len(tree):
                problems.append(f"{counts} for {len(tree)} inputs")
            if result.exit_code != (1 if counts.failed else 0):
                problems.append(f"exit code {result.exit_code} with {counts}")
            if len(new_files) != 2 * counts.done:
                problems.append(
                    f"{counts.done} done but {len(new_files)} files written (2 each): "
                    f"done inputs share outputs? {new_files}"
                )
        for key in new_files:
            try:
                read_image(out / key)
            except Exception as error:
                problems.append(f"{key} does not decode: {error}")

        # An input whose outputs meet no other input's and no foreign file must be done.
        keys = [expected_outputs(name, fmt) for name in tree]
        written = {k.lower(): k for k in new_files}
        for i, name in enumerate(tree):
            others = {k for j, ks in enumerate(keys) if j != i for k in ks} | foreign_paths
            if others & set(keys[i]):
                continue
            missing = [k for k in keys[i] if k not in written]
            if missing:
                problems.append(
                    f"{''.join(name[:2])}.{name[2]} clashes with nothing, yet {missing} missing"
                )
        assert not problems, "\n".join(
            [
                f"tree {tree}, --format {fmt}, foreign {foreign}:",
                *problems,
                "--- output ---",
                output,
            ]
        )
