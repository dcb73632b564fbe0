"""A generated corpus of hostile inputs for ``restore run`` (no committed binaries).

Every ``Case`` has an id, a class (``CLASSES``), a ``build`` function that lays out
its input tree, pipeline file and extra arguments in a fresh folder through a
``World``, and the result it must give: for a problem found before the batch the
exit code 2 and the name its one error line must carry; otherwise, for every input
file, the status it must end with (``DONE``, ``FAILED``, ``SKIPPED``, ``NOT_DONE``:
failed or ignored, never done, or ``ANY``: either, but consistently) and, for a
failure, what its message must mention. ``test_corpus.py`` runs them all.

Layout of a case folder: inputs under ``in/``, the pipeline in ``pipe.yaml``, the
output folder at ``o1/o2/out`` (two levels down, so an output that escapes it with
``../..`` lands inside the case folder, where the tests see it).
"""

from __future__ import annotations

import functools
import io
import os
import random
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

from restore.testing import synthetic_photo

DONE, FAILED, SKIPPED, NOT_DONE, ANY = "done", "failed", "skipped", "not done", "any"

CLASSES = (
    "image",  # bad image files of every format
    "bomb",  # decompression bombs and --max-pixels
    "pipeline",  # bad pipeline files
    "set",  # bad --set overrides
    "option",  # bad command-line options
    "sidecar",  # bad <stem>.restore.yaml files
    "fs",  # odd file-system entries
    "naming",  # markup, unicode, spaces and other odd file names
    "collision",  # inputs whose outputs would share a path
    "overwrite",  # pre-existing files in OUT, reruns, -o inside the input tree
)

# A fast pipeline with a main output and a second (mask) output.
TWO_OUTPUTS = """\
nodes:
  - {id: sharpen, uses: sharpen.unsharp}
  - {id: damage, uses: inpaint.damage_mask}
outputs:
  - {node: sharpen}
  - {node: damage, port: mask, suffix: .mask}
"""
TWO_OUTPUT_SPEC = (("", False), (".mask", True))  # (suffix, is a mask) per output

ONE_OUTPUT = """\
nodes:
  - {id: sharpen, uses: sharpen.unsharp}
"""
ONE_OUTPUT_SPEC = (("", False),)

FORMATS = ("png", "jpg", "tif", "webp", "bmp")
_PILLOW_FORMAT = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP", "bmp": "BMP"}
SIZE = (24, 32)  # height, width of the corpus images
BOMB_SIDE = 14000  # 196 M pixels: above the default limit and above Pillow's own
MID_BOMB_SIDE = 12500  # 156 M pixels: above the default limit, below Pillow's refusal
NESTING = 100_000


@functools.cache
def encode(fmt: str, height: int = SIZE[0], width: int = SIZE[1], seed: int = 0) -> bytes:
    """A small valid RGB image file of format ``fmt`` (encoded without restore's writer)."""
    pixels = np.round(synthetic_photo(height, width, seed=seed) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    if fmt == "tif":
        tifffile.imwrite(buffer, pixels, photometric="rgb", compression="zlib")
    elif fmt == "webp-lossless":
        Image.fromarray(pixels).save(buffer, format="WEBP", lossless=True)
    else:
        Image.fromarray(pixels).save(buffer, format=_PILLOW_FORMAT[fmt])
    return buffer.getvalue()


def flip_bit(data: bytes, offset: int, bit: int = 0) -> bytes:
    patched = bytearray(data)
    patched[offset] ^= 1 << bit
    return bytes(patched)


def png_claiming(width: int, height: int) -> bytes:
    """A small PNG whose IHDR (with a correct CRC) claims ``width`` x ``height``."""
    data = bytearray(encode("png"))
    struct.pack_into(">II", data, 16, width, height)
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small JPEG whose start-of-frame segment claims ``width`` x ``height``."""
    data = bytearray(encode("jpg"))
    offset = 2
    while data[offset + 1] not in (0xC0, 0xC1, 0xC2):
        offset += 2 + struct.unpack_from(">H", data, offset + 2)[0]
    struct.pack_into(">HH", data, offset + 5, height, width)
    return bytes(data)


def bmp_claiming(width: int, height: int) -> bytes:
    data = bytearray(encode("bmp"))
    struct.pack_into("<ii", data, 18, width, height)
    return bytes(data)


def webp_claiming(width: int, height: int) -> bytes:
    """A lossless WebP whose VP8L header claims ``width`` x ``height`` (14 bits each)."""
    data = bytearray(encode("webp-lossless"))
    assert data[12:16] == b"VP8L" and data[20] == 0x2F, "unexpected WebP layout"
    bits = int.from_bytes(data[21:25], "little")
    bits = (bits & ~((1 << 28) - 1)) | (width - 1) | ((height - 1) << 14)
    data[21:25] = bits.to_bytes(4, "little")
    return bytes(data)


@functools.cache
def tiff_bomb() -> bytes:
    """A real, decodable TIFF of 14000 x 14000 zeros: about 200 kB on disk."""
    buffer = io.BytesIO()
    tifffile.imwrite(
        buffer, np.zeros((BOMB_SIDE, BOMB_SIDE), np.uint8), compression="zlib", rowsperstrip=512
    )
    return buffer.getvalue()


def noise(length: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(length)


def nested(opening: str, closing: str, depth: int = NESTING) -> str:
    return opening * depth + closing * depth


# ---------------------------------------------------------------------------


@dataclass
class World:
    """One case's folder and what the case expects of it."""

    root: Path
    pipeline_text: str | bytes | None = TWO_OUTPUTS  # None: no file is written
    output_spec: tuple[tuple[str, bool], ...] = TWO_OUTPUT_SPEC
    args: list[str] = field(default_factory=list)
    fmt: str | None = None  # the --format given, if any
    expect: dict[Path, str] = field(default_factory=dict)  # input file -> status
    mentions: dict[Path, tuple[str | tuple[str, ...], ...]] = field(default_factory=dict)
    sizes: dict[Path, tuple[int, int]] = field(default_factory=dict)
    literal: list[str] = field(default_factory=list)  # names that must appear verbatim
    pre_runs: list[list[str]] = field(default_factory=list)  # extra args of earlier runs
    fifos: list[Path] = field(default_factory=list)
    # Inputs refused because of a file at an output path: their failure line may name
    # the input or that output.
    either: set[Path] = field(default_factory=set)
    source: Path | None = None
    out: Path | None = None
    pipeline: Path | None = None

    def __post_init__(self) -> None:
        self.source = self.source or self.root / "in"
        self.out = self.out or self.root / "o1" / "o2" / "out"
        self.pipeline = self.pipeline or self.root / "pipe.yaml"
        self.source.mkdir(parents=True, exist_ok=True)
        self.out.parent.mkdir(parents=True, exist_ok=True)

    @property
    def inputs_dir(self) -> Path:
        return self.root / "in"

    # -- building ----------------------------------------------------------
    def image(
        self,
        rel: str,
        fmt: str | None = None,
        status: str = DONE,
        size: tuple[int, int] = SIZE,
        seed: int = 0,
    ) -> Path:
        """A valid image at ``in/rel`` (format from its suffix unless given)."""
        fmt = fmt or _format_of(rel)
        path = self.raw(rel, encode(fmt, *size, seed=seed), status)
        self.sizes[path] = size
        return path

    def raw(
        self,
        rel: str,
        data: bytes,
        status: str = FAILED,
        mentions: tuple[str | tuple[str, ...], ...] | None = None,
    ) -> Path:
        """A file with ``data`` at ``in/rel``; a failure must name it unless ``mentions``
        says otherwise (each entry: a word, or a tuple of alternatives)."""
        path = self.inputs_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.expects(path, status, mentions)
        return path

    def expects(
        self,
        path: Path,
        status: str,
        mentions: tuple[str | tuple[str, ...], ...] | None = None,
    ) -> None:
        self.expect[path] = status
        self.mentions[path] = (path.name,) if mentions is None else mentions

    def blocked(self, rel: str, status: str = FAILED) -> Path:
        """A valid image whose output path is taken: it fails, named or by its output."""
        path = self.image(rel, status=status)
        self.either.add(path)
        return path

    def good(self, rel: str = "good.png", seed: int = 1) -> Path:
        """A valid image that must be done whatever its neighbours are."""
        return self.image(rel, seed=seed)

    def set_pipeline(
        self, text: str | bytes | None, spec: tuple[tuple[str, bool], ...] = ()
    ) -> None:
        self.pipeline_text = text
        self.output_spec = spec or self.output_spec

    def option(self, *args: str) -> None:
        self.args.extend(args)

    def format(self, ext: str) -> None:
        self.fmt = ext
        self.args.extend(["--format", ext])

    def preexisting(self, rel: str, data: bytes = b"someone else's file") -> Path:
        """A file already in OUT at ``out/rel``, not written by restore."""
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path

    def write_pipeline(self) -> None:
        assert self.pipeline is not None
        text = self.pipeline_text
        if text is None:
            return
        data = text.encode() if isinstance(text, str) else text
        self.pipeline.write_bytes(data.replace(b"ROOT", str(self.root).encode()))

    # -- expectations --------------------------------------------------------
    def relative(self, path: Path) -> Path:
        """``path`` relative to SOURCE, as outputs are named."""
        assert self.source is not None
        if self.source.is_file() or self.source == path:
            return Path(path.name)
        return path.relative_to(self.source)

    def outputs_of(self, path: Path) -> list[Path]:
        """Where ``path``'s outputs go: the main output last (masks are always PNG)."""
        assert self.out is not None
        relative = self.relative(path)
        found = []
        for suffix, is_mask in self.output_spec:
            ext = ".png" if is_mask else "." + (self.fmt or relative.suffix[1:]).lstrip(".")
            found.append(self.out / relative.parent / f"{relative.stem}{suffix}{ext.lower()}")
        return found


def _format_of(rel: str) -> str:
    ext = rel.rsplit(".", 1)[-1].lower()
    return {"jpeg": "jpg", "tiff": "tif"}.get(ext, ext)


@dataclass(frozen=True)
class Case:
    id: str
    klass: str
    build: Callable[[World], None]
    code: int | tuple[int, ...] | None = None  # None: 1 when an input failed, else 0
    error_names: tuple[str, ...] = ()  # exit-2 cases: the error line names one of these
    mode: str = "exact"  # exact | collision | loose (see test_corpus.py)
    check_too: bool = False  # `restore check` must reject the pipeline as well
    needs_non_root: bool = False  # chmod 000 does not stop root

    def __str__(self) -> str:
        """A readable test id: odd characters of file names become ``_``."""
        return re.sub(r"[^A-Za-z0-9.+-]", "_", f"{self.klass}-{self.id}")


CASES: list[Case] = []


def case(klass: str, name: str, **options: object) -> Callable:
    def register(build: Callable[[World], None]) -> Callable[[World], None]:
        CASES.append(Case(name, klass, build, **options))  # type: ignore[arg-type]
        return build

    return register


def add(klass: str, name: str, build: Callable[[World], None], **options: object) -> None:
    CASES.append(Case(name, klass, build, **options))  # type: ignore[arg-type]


# -- bad image files of every format -------------------------------------------

_TRUNCATIONS = {  # name -> how many bytes are kept
    "1-byte": lambda n: 1,
    "8-bytes": lambda n: 8,
    "quarter": lambda n: n // 4,
    "half": lambda n: n // 2,
    "90pct": lambda n: n * 9 // 10,
}


def _bad_image(fmt: str, data: bytes, status: str, name: str | None = None) -> Callable:
    def build(w: World) -> None:
        w.good()
        w.raw(name or f"sub/bad.{fmt}", data, status)

    return build


for _fmt in FORMATS:
    _data = encode(_fmt)
    add("image", f"{_fmt}-empty", _bad_image(_fmt, b"", FAILED))
    for _label, _keep in _TRUNCATIONS.items():
        add(
            "image",
            f"{_fmt}-truncated-{_label}",
            _bad_image(_fmt, _data[: _keep(len(_data))], FAILED),
        )
    # The last bytes may hold only a trailer (PNG's IEND): decoding may still succeed.
    add("image", f"{_fmt}-truncated-tail", _bad_image(_fmt, _data[:-2], ANY))
    add("image", f"{_fmt}-flipped-magic", _bad_image(_fmt, flip_bit(_data, 1, 3), FAILED))
    _rng = random.Random(f"flip-{_fmt}")
    for _offset in _rng.sample(range(4, min(64, len(_data))), 2):
        add(
            "image",
            f"{_fmt}-flipped-header-{_offset}",
            _bad_image(_fmt, flip_bit(_data, _offset, _rng.randrange(8)), ANY),
        )
    add(
        "image",
        f"{_fmt}-flipped-body",
        _bad_image(_fmt, flip_bit(_data, len(_data) * 2 // 3, 5), ANY),
    )
    _magic = _data[:4]
    add("image", f"{_fmt}-magic-then-noise", _bad_image(_fmt, _magic + noise(600, 7), FAILED))
    _other = FORMATS[(FORMATS.index(_fmt) + 1) % len(FORMATS)]
    add(
        "image",
        f"{_fmt}-content-named-{_other}",
        _bad_image(_fmt, _data, ANY, name=f"sub/wrong.{_other}"),
    )

add("image", "text-named-png", _bad_image("png", b"hello, I am text\n", FAILED, "notes.png"))
add("image", "html-named-jpg", _bad_image("jpg", b"<html><body>404</body></html>", FAILED, "x.jpg"))
add("image", "pure-noise-tif", _bad_image("tif", noise(4096, 3), FAILED, "noise.TIF"))


# -- decompression bombs and --max-pixels ----------------------------------------

_PIXELS = ("pixel", ("limit", "max-pixels"))


def _bomb(rel: str, data: Callable[[], bytes], *args: str) -> Callable:
    def build(w: World) -> None:
        w.good()
        w.raw(rel, data(), FAILED, mentions=(Path(rel).name, *_PIXELS))
        w.option(*args)

    return build


add("bomb", "png-14000", _bomb("big.png", lambda: png_claiming(BOMB_SIDE, BOMB_SIDE)))
add("bomb", "png-12500", _bomb("big.png", lambda: png_claiming(MID_BOMB_SIDE, MID_BOMB_SIDE)))
add("bomb", "tiff-14000-real", _bomb("big.tif", tiff_bomb))
add("bomb", "jpeg-14000", _bomb("big.jpg", lambda: jpeg_claiming(BOMB_SIDE, BOMB_SIDE)))
add("bomb", "bmp-12500", _bomb("big.bmp", lambda: bmp_claiming(MID_BOMB_SIDE, MID_BOMB_SIDE)))
add("bomb", "webp-12500", _bomb("big.webp", lambda: webp_claiming(MID_BOMB_SIDE, MID_BOMB_SIDE)))
# A JPEG that really decodes (to 1000 x 1000) when nothing checks the limit first.
add(
    "bomb",
    "jpeg-1000-over-limit",
    _bomb("big.jpg", lambda: jpeg_claiming(1000, 1000), "--max-pixels", "500000"),
)


@case("bomb", "small-image-over-small-limit")
def _(w: World) -> None:
    w.image("tiny.png", size=(8, 8))  # 64 pixels: under the limit
    w.raw("photo.png", encode("png"), FAILED, mentions=("photo.png", *_PIXELS))  # 768
    w.option("--max-pixels", "500")


@case("bomb", "max-pixels-0-is-no-limit")
def _(w: World) -> None:
    w.image("moderate.png", size=(200, 300))
    w.option("--max-pixels", "0")


@case("bomb", "moderate-image-over-limit")
def _(w: World) -> None:
    w.good()
    w.raw("moderate.png", encode("png", 200, 300), FAILED, mentions=("moderate.png", *_PIXELS))
    w.option("--max-pixels", "50000")


@case("bomb", "moderate-image-under-limit")
def _(w: World) -> None:
    w.image("moderate.png", size=(200, 300))
    w.option("--max-pixels", "70000")


# -- bad pipeline files (exit 2 before the batch, `restore check` too) ------------

_PIPELINES: dict[str, str | bytes] = {
    "not-utf8": b"nodes:\n  - {id: sharpen, uses: sharpen.unsharp}\n# \xff\xfe\x80 caf\xe9\n",
    "utf16": "nodes:\n  - {id: sharpen, uses: sharpen.unsharp}\n".encode("utf-16"),
    "invalid-yaml": "nodes: [\n  - {id: sharpen\n",
    "tab-indent": "nodes:\n\t- {id: sharpen, uses: sharpen.unsharp}\n",
    "nested-lists-100000": "nodes: " + nested("[", "]"),
    "nested-maps-100000": "nodes: " + nested("{a: ", "}"),
    "nested-block-5000": "nodes:\n" + "".join(" " * i + "- \n" for i in range(0, 10000, 2)),
    "python-object-tag": "!!python/object:os.system\nnodes: []\n",
    "python-apply-in-param": (
        "nodes:\n  - id: sharpen\n    uses: sharpen.unsharp\n    params:\n"
        '      strength: !!python/object/apply:os.system ["touch ROOT/pwned"]\n'
    ),
    "python-name-tag": "nodes: !!python/name:os.system\n",
    "unknown-tag": "nodes: !custom [1]\n",
    "empty-file": "",
    "only-comment": "# nothing here\n",
    "a-list": "- {id: sharpen, uses: sharpen.unsharp}\n",
    "a-string": "sharpen.unsharp\n",
    "nul-byte": "nodes:\n  - {id: sharp\x00en, uses: sharpen.unsharp}\n",
    "billion-laughs": (
        'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
        "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        "nodes:\n  - id: sharpen\n    uses: sharpen.unsharp\n    params: {strength: *e}\n"
    ),
}
_SUFFIXES = {
    "slash": "/evil",
    "dotdot": "/../../evil",
    "trailing-slash": ".mask/",
    "backslash": "\\\\evil",
    "backslash-dotdot": "\\\\..\\\\..\\\\evil",
    "nul": "a\\0b",
}
for _name, _suffix in _SUFFIXES.items():
    _PIPELINES[f"suffix-{_name}"] = (
        "nodes:\n  - {id: sharpen, uses: sharpen.unsharp}\n"
        "  - {id: damage, uses: inpaint.damage_mask}\n"
        "outputs:\n  - {node: sharpen}\n"
        f'  - {{node: damage, port: mask, suffix: "{_suffix}"}}\n'
    )
_PIPELINES["main-suffix-dotdot"] = (
    "nodes:\n  - {id: sharpen, uses: sharpen.unsharp}\n"
    'outputs:\n  - {node: sharpen, suffix: "/../../evil"}\n'
)


def _bad_pipeline(text: str | bytes | None) -> Callable:
    def build(w: World) -> None:
        for name in ("a.png", "b.png", "c/d.png"):
            w.image(name, status=NOT_DONE)
        w.set_pipeline(text)

    return build


for _name, _text in _PIPELINES.items():
    add("pipeline", _name, _bad_pipeline(_text), code=2, error_names=("pipe.yaml",), check_too=True)


@case("pipeline", "pipeline-is-a-folder", code=2, error_names=("pipe.yaml",), check_too=True)
def _(w: World) -> None:
    _bad_pipeline(None)(w)
    assert w.pipeline is not None
    w.pipeline.mkdir()


@case("pipeline", "pipeline-missing", code=2, error_names=("nowhere.yaml",), check_too=True)
def _(w: World) -> None:
    _bad_pipeline(None)(w)
    w.pipeline = w.root / "nowhere.yaml"


@case("pipeline", "two-outputs-one-path", code=(1, 2))
def _(w: World) -> None:
    """Main and mask outputs with the same suffix land on one path: nothing may be done."""
    for name in ("a.png", "b.png"):
        w.image(name, status=NOT_DONE)
    w.set_pipeline(
        "nodes:\n  - {id: sharpen, uses: sharpen.unsharp}\n"
        "  - {id: damage, uses: inpaint.damage_mask}\n"
        "outputs:\n  - {node: sharpen, suffix: .x}\n  - {node: damage, port: mask, suffix: .x}\n",
        ((".x", False), (".x", True)),
    )


# -- bad --set overrides ---------------------------------------------------------

_SETS = {
    "unclosed-list": ("sharpen.strength=[1", "sharpen.strength"),
    "unclosed-list-unknown-node": ("deblur.sigma=[1", "deblur.sigma"),
    "python-tag-unknown-node": ('x.y=!!python/object/apply:os.system ["touch ROOT/pwned"]', "x.y"),
    "python-tag": (
        'sharpen.strength=!!python/object/apply:os.system ["touch ROOT/pwned"]',
        "strength",
    ),
    "no-equals": ("sharpen.strength", "sharpen.strength"),
    "no-param": ("sharpen.=1", "sharpen."),
    "out-of-range": ("sharpen.strength=99", "strength"),
    "unknown-node": ("nosuch.param=1", "nosuch"),
    "nested-100000": ("sharpen.strength=" + nested("[", "]"), "sharpen.strength"),
    "recursive-alias": ("sharpen.strength=&a [*a]", "strength"),
    "nul-byte": ("sharpen.strength=1\x00", "sharpen.strength"),
    "tab-yaml": ("sharpen.strength=\t- [", "sharpen.strength"),
}


def _bad_set(value: str) -> Callable:
    def build(w: World) -> None:
        for name in ("a.png", "b.png", "c/d.png"):
            w.image(name, status=NOT_DONE)
        w.option("--set", value.replace("ROOT", str(w.root)))

    return build


for _name, (_value, _key) in _SETS.items():
    add("set", _name, _bad_set(_value), code=2, error_names=("--set", _key))


# -- bad options -------------------------------------------------------------------

_OPTIONS = {
    "device-tpu": (["--device", "tpu"], "--device"),
    "device-banana": (["--device", "banana"], "--device"),
    "device-cuda-letters": (["--device", "cuda:x"], "--device"),
    "device-empty": (["--device", ""], "--device"),
    "format-escape": (["--format", "/../../evil.png"], "--format"),
    "format-gif": (["--format", "gif"], "--format"),
    "format-empty": (["--format", ""], "--format"),
    "format-dotdot": (["--format", "../png"], "--format"),
    "format-dot": (["--format", "."], "--format"),
    "max-pixels-negative": (["--max-pixels", "-1"], "--max-pixels"),
    "max-pixels-very-negative": (["--max-pixels", "-150000000"], "--max-pixels"),
    "tile-negative": (["--tile", "-1"], "--tile"),
}


def _bad_option(args: list[str]) -> Callable:
    def build(w: World) -> None:
        for name in ("a.png", "b.png", "c/d.png"):
            w.image(name, status=NOT_DONE)
        w.option(*args)

    return build


for _name, (_args, _option) in _OPTIONS.items():
    add("option", _name, _bad_option(_args), code=2, error_names=(_option,))


# -- bad sidecar files ---------------------------------------------------------------


def _bad_sidecar(data: bytes | None, status: str = FAILED, image: str = "a.png") -> Callable:
    def build(w: World) -> None:
        w.good("b.png")
        stem = image.rsplit(".", 1)[0]
        sidecar = w.inputs_dir / f"{stem}.restore.yaml"
        path = w.image(image, status=status)
        w.mentions[path] = (sidecar.name,)
        if data is not None:
            sidecar.write_bytes(data.replace(b"ROOT", str(w.root).encode()))

    return build


_SIDECARS: dict[str, bytes] = {
    "binary": noise(300, 11) + b"\xff\xfe\x80",
    "invalid-yaml": b"sharpen: {strength: [\n",
    "nested-100000": ("sharpen: " + nested("[", "]")).encode(),
    "python-tag": b'sharpen: !!python/object/apply:os.system ["touch ROOT/pwned"]\n',
    "unknown-node": b"nosuch: {strength: 0.5}\n",
    "out-of-range": b"sharpen: {strength: 99}\n",
    "a-list": b"- sharpen\n",
    "params-not-a-mapping": b"sharpen: 3\n",
}
for _name, _data in _SIDECARS.items():
    add("sidecar", _name, _bad_sidecar(_data))
add("sidecar", "binary-for-markup-name", _bad_sidecar(noise(64, 5), image="bad [red]file.png"))
add("sidecar", "empty", _bad_sidecar(b"", ANY))


@case("sidecar", "sidecar-is-a-folder")
def _(w: World) -> None:
    _bad_sidecar(None, ANY)(w)
    (w.inputs_dir / "a.restore.yaml").mkdir()


@case("sidecar", "sidecar-broken-symlink")
def _(w: World) -> None:
    _bad_sidecar(None, ANY)(w)
    (w.inputs_dir / "a.restore.yaml").symlink_to("nowhere.yaml")


@case("sidecar", "sidecar-unreadable", needs_non_root=True)
def _(w: World) -> None:
    _bad_sidecar(b"sharpen: {strength: 0.5}\n")(w)
    (w.inputs_dir / "a.restore.yaml").chmod(0)


# -- odd file-system entries -----------------------------------------------------------


@case("fs", "folder-named-x-png")
def _(w: World) -> None:
    w.good()
    w.image("x.png/inner.png")
    w.expects(w.inputs_dir / "x.png", NOT_DONE)


@case("fs", "empty-folder-named-x-png")
def _(w: World) -> None:
    w.good()
    (w.inputs_dir / "x.png").mkdir()
    w.expects(w.inputs_dir / "x.png", NOT_DONE)


@case("fs", "broken-symlink")
def _(w: World) -> None:
    w.good()
    link = w.inputs_dir / "x.png"
    link.symlink_to("missing-target.png")
    w.expects(link, NOT_DONE)


@case("fs", "symlink-loop-file")
def _(w: World) -> None:
    w.good()
    link = w.inputs_dir / "loop.png"
    link.symlink_to("loop.png")
    w.expects(link, NOT_DONE)


@case("fs", "symlink-loop-folder", mode="loose")
def _(w: World) -> None:
    w.good()
    w.image("sub/b.png", seed=2)
    (w.inputs_dir / "sub" / "up").symlink_to("..")


@case("fs", "symlink-to-file-in-tree", mode="loose")
def _(w: World) -> None:
    target = w.good()
    link = w.inputs_dir / "link.png"
    link.symlink_to(target.name)
    w.expects(link, ANY)


@case("fs", "fifo-named-png")
def _(w: World) -> None:
    w.good()
    fifo = w.inputs_dir / "pipe.png"
    os.mkfifo(fifo)
    w.fifos.append(fifo)
    w.expects(fifo, NOT_DONE)


@case("fs", "unreadable-file", needs_non_root=True)
def _(w: World) -> None:
    w.good()
    w.raw("locked.png", encode("png"), FAILED).chmod(0)


@case("fs", "unreadable-folder", needs_non_root=True, mode="loose")
def _(w: World) -> None:
    w.good()
    locked = w.inputs_dir / "locked"
    locked.mkdir()
    (locked / "a.png").write_bytes(encode("png"))
    locked.chmod(0)


@case("fs", "deeply-nested-folders")
def _(w: World) -> None:
    w.image("/".join(["d"] * 60) + "/deep.png")


@case("fs", "mask-name-too-long")
def _(w: World) -> None:
    """The main output fits NAME_MAX, the mask output (5 more bytes) does not."""
    w.good()
    w.raw("n" * 248 + ".png", encode("png"), FAILED, mentions=("n" * 248,))


@case("fs", "main-name-too-long")
def _(w: World) -> None:
    """The mask output fits NAME_MAX, the main one (long suffix) does not."""
    w.set_pipeline(
        "nodes:\n  - {id: sharpen, uses: sharpen.unsharp}\n"
        "  - {id: damage, uses: inpaint.damage_mask}\n"
        "outputs:\n  - {node: sharpen, suffix: .restored-with-a-long-suffix}\n"
        "  - {node: damage, port: mask, suffix: .mask}\n",
        ((".restored-with-a-long-suffix", False), (".mask", True)),
    )
    w.good()
    w.raw("m" * 240 + ".png", encode("png"), FAILED, mentions=("m" * 240,))


@case("fs", "main-output-path-is-a-folder")
def _(w: World) -> None:
    """The main output cannot be written (a folder is in the way): no mask is left either."""
    w.good()
    w.blocked("a.png")
    assert w.out is not None
    (w.out / "a.png").mkdir(parents=True)
    w.option("--overwrite")


@case("fs", "out-is-a-file", code=(1, 2), mode="loose")
def _(w: World) -> None:
    for name in ("a.png", "b.png"):
        w.image(name, status=NOT_DONE)
    assert w.out is not None
    w.out.write_bytes(b"a file where the output folder should be")


# -- odd file names -------------------------------------------------------------------

_DONE_NAMES = (
    "foo[/].png",
    "bad [red]file.png",
    "[bold]x[/bold].png",
    "[link=https:x]y[/link].jpg",
    "[/bold]z.png",
    "café.png",
    "日本語 写真.jpg",
    "emoji 📷.webp",
    "e\u0301 combining.tif",
    "with  two  spaces.bmp",
    " leading space.png",
    "-dash-first.png",
    "%s%n%x{0}.png",
    'it\'s "quoted".png',
    "back\\slash.png",
    "semi;colon&amp$(x).png",
)
for _i, _name in enumerate(_DONE_NAMES):

    def _build(w: World, name: str = _name, seed: int = _i) -> None:
        w.good("plain.png")
        w.image(name, seed=seed)
        w.literal.append(name)

    add("naming", f"done-{_i:02d}-{_name}", _build)

_FAILED_NAMES = (
    "foo[/].png",
    "bad [red]file.png",
    "[bold]x[/bold].png",
    "späť [i]x.bmp",
    "\\[x].png",
)
for _i, _name in enumerate(_FAILED_NAMES):

    def _build(w: World, name: str = _name) -> None:
        w.good("plain.png")
        w.raw(name, b"\x89PNG\r\n\x1a\n garbage", FAILED, mentions=(name,))

    add("naming", f"failed-{_i:02d}-{_name}", _build)


@case("naming", "newline-and-tab-in-name")
def _(w: World) -> None:
    w.good()
    w.image("new\nline\tname.png", seed=3)


@case("naming", "escape-sequence-in-name")
def _(w: World) -> None:
    w.good()
    w.image("\x1b[31mred\x1b[0m.png", seed=3)


@case("naming", "undecodable-bytes-in-name")
def _(w: World) -> None:
    w.good()
    w.image(os.fsdecode(b"zz\xff\xfe.png"), status=ANY, seed=3)


@case("naming", "undecodable-bytes-in-failing-name")
def _(w: World) -> None:
    w.good()
    w.raw(os.fsdecode(b"zz\xff\xfe.png"), b"not a png", FAILED, mentions=("zz",))


@case("naming", "upper-case-extension")
def _(w: World) -> None:
    w.image("UPPER.PNG")
    w.image("Mixed.JpG", seed=2)


# -- collisions --------------------------------------------------------------------------


def _collision(*names: str, fmt: str | None = None, spec: str = TWO_OUTPUTS) -> Callable:
    def build(w: World) -> None:
        if spec is not TWO_OUTPUTS:
            w.set_pipeline(spec, ONE_OUTPUT_SPEC)
        for i, name in enumerate(names):
            w.image(name, status=ANY, seed=i)
        if fmt:
            w.format(fmt)

    return build


add("collision", "case-of-extension", _collision("coll.png", "coll.PNG"), mode="collision")
add("collision", "case-of-stem", _collision("Pic.png", "pic.png"), mode="collision")
add("collision", "case-of-folder", _collision("Sub/a.png", "sub/a.png"), mode="collision")
add(
    "collision",
    "three-formats-to-png",
    _collision("x.png", "x.jpg", "x.tif", fmt="png"),
    mode="collision",
)
add("collision", "jpg-and-jpeg-to-png", _collision("x.jpg", "x.jpeg", fmt="png"), mode="collision")
add("collision", "tif-and-tiff-to-jpg", _collision("x.tif", "x.TIFF", fmt="jpg"), mode="collision")
add("collision", "mask-beside-image", _collision("pic.png", "pic.mask.png"), mode="collision")
add(
    "collision",
    "mask-of-mask",
    _collision("pic.png", "pic.mask.png", "pic.mask.mask.png"),
    mode="collision",
)
add("collision", "masks-of-two-formats", _collision("a.png", "a.jpg"), mode="collision")
add(
    "collision",
    "many-to-one",
    _collision("m.png", "M.png", "m.jpg", "m.JPG", "m.bmp", fmt="webp", spec=ONE_OUTPUT),
    mode="collision",
)
# Negative controls: no two outputs meet, so every input is done.
add(
    "collision",
    "no-clash-tif-and-tiff",
    lambda w: [w.set_pipeline(ONE_OUTPUT, ONE_OUTPUT_SPEC), w.image("x.tif"), w.image("x.tiff")],
)
add(
    "collision",
    "no-clash-without-masks",
    lambda w: [w.set_pipeline(ONE_OUTPUT, ONE_OUTPUT_SPEC), w.image("a.png"), w.image("a.jpg")],
)


# -- pre-existing files, reruns, -o inside the input tree -------------------------------


@case("overwrite", "foreign-main-output")
def _(w: World) -> None:
    w.good("b.png")
    w.blocked("a.png")
    w.preexisting("a.png")


@case("overwrite", "foreign-mask-output")
def _(w: World) -> None:
    w.good("b.png")
    w.blocked("a.png")
    w.preexisting("a.mask.png")


@case("overwrite", "foreign-output-in-subfolder")
def _(w: World) -> None:
    w.good("b.png")
    w.blocked("deep/er/a.jpg")
    w.preexisting("deep/er/a.jpg", encode("jpg", seed=9))


@case("overwrite", "foreign-output-with-overwrite")
def _(w: World) -> None:
    w.good("b.png")
    w.image("a.png")
    w.preexisting("a.png")
    w.option("--overwrite")


@case("overwrite", "rerun-without-flags")
def _(w: World) -> None:
    for name in ("a.png", "b.jpg", "c/d.tif"):
        w.blocked(name)
    w.pre_runs.append([])


@case("overwrite", "rerun-with-overwrite")
def _(w: World) -> None:
    for name in ("a.png", "b.jpg", "c/d.tif"):
        w.image(name)
    w.pre_runs.append([])
    w.option("--overwrite")


@case("overwrite", "rerun-with-skip-existing")
def _(w: World) -> None:
    for name in ("a.png", "b.jpg", "c/d.tif"):
        w.image(name, status=SKIPPED)
    w.pre_runs.append([])
    w.option("--skip-existing")


@case("overwrite", "skip-existing-foreign-outputs")
def _(w: World) -> None:
    w.good("b.png")
    w.image("a.png", status=SKIPPED)
    w.preexisting("a.png")
    w.preexisting("a.mask.png")
    w.option("--skip-existing")


@case("overwrite", "single-file-onto-itself")
def _(w: World) -> None:
    w.source = w.blocked("a.png")
    w.out = w.inputs_dir


@case("overwrite", "single-file-onto-itself-with-overwrite")
def _(w: World) -> None:
    w.source = w.blocked("a.png")
    w.out = w.inputs_dir
    w.option("--overwrite")


@case("overwrite", "out-is-the-source-folder-with-overwrite", code=(1, 2))
def _(w: World) -> None:
    for name in ("a.png", "b.jpg"):
        w.image(name, status=NOT_DONE)
    w.out = w.inputs_dir
    w.option("--overwrite")


@case("overwrite", "out-inside-input-tree-rerun")
def _(w: World) -> None:
    for name in ("a.png", "sub/b.jpg"):
        w.blocked(name)
    w.out = w.inputs_dir / "restored"
    w.pre_runs.append([])


@case("overwrite", "out-inside-input-tree-skip-existing")
def _(w: World) -> None:
    for name in ("a.png", "sub/b.jpg"):
        w.image(name, status=SKIPPED)
    w.out = w.inputs_dir / "restored"
    w.pre_runs.append([])
    w.option("--skip-existing")


@case("overwrite", "out-inside-input-tree-holding-user-images")
def _(w: World) -> None:
    """``-o in/sub`` where ``in/sub/a.png`` is the user's own image: with --overwrite the
    output of ``in/a.png`` would land on it, and it must survive."""
    w.blocked("a.png")
    w.good("b.png")
    w.out = w.inputs_dir / "sub"
    users = w.out / "a.png"
    users.parent.mkdir(parents=True)
    users.write_bytes(encode("png", seed=5))
    w.option("--overwrite")


def cases_by_class() -> dict[str, int]:
    counts = dict.fromkeys(CLASSES, 0)
    for c in CASES:
        counts[c.klass] += 1
    return counts


_DUPLICATES = sorted({str(c) for c in CASES if [str(d) for d in CASES].count(str(c)) > 1})
assert not _DUPLICATES, f"corpus case ids must be unique: {_DUPLICATES}"
assert all(c.klass in CLASSES for c in CASES)
