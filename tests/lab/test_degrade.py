"""Degradation synthesis: seeded steps, kernels, film-damage masks, recipes and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError
from typer.testing import CliRunner

from restore.api.errors import PipelineError, RestoreError
from restore.app.cli.main import app
from restore.io.images import read_image, write_image
from restore.lab.degrade import (
    RECIPES,
    Cracks,
    Crazing,
    DefocusBlur,
    Degradation,
    Downscale,
    FilmDamage,
    FilmGrain,
    GaussianBlur,
    GaussianNoise,
    Grayscale,
    Jpeg,
    KernelBlur,
    MotionBlur,
    PoissonGaussian,
    PrintLike,
    PrintScratches,
    Recipe,
    Resize,
    Step,
    TornEdges,
    WaterStains,
    disk_kernel,
    gaussian_kernel,
    load_kernels,
    load_recipe,
    motion_kernel,
)
from restore.testing import synthetic_photo

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
runner = CliRunner()


@pytest.fixture(scope="module")
def overlays(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two overlay types of white RGBA artifacts; the RGB outside the artifacts is noise."""
    root = tmp_path_factory.mktemp("overlays")
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:40, 0:40]
    shapes = {
        "dust": [(x - 12) ** 2 + (y - 20) ** 2 < 30, (x - 30) ** 2 + (y - 8) ** 2 < 12],
        "scratch": [abs(x - y) < 2, abs(x - 20) < 1],
    }
    for kind, masks in shapes.items():
        (root / kind).mkdir()
        for i, inside in enumerate(masks):
            rgba = rng.integers(0, 256, (40, 40, 4), dtype=np.uint8)
            rgba[..., 3] = np.where(inside, 255, 0)
            rgba[inside, :3] = 255
            Image.fromarray(rgba, "RGBA").save(root / kind / f"{kind}-{i}.png")
    return root


@pytest.fixture(scope="module")
def kernel_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kernels") / "kernels.npy"
    np.save(path, np.stack([motion_kernel(7, 30), gaussian_kernel(1.5)]))
    return path


def steps(overlays: Path, kernel_file: Path) -> dict[str, tuple[Step, bool]]:
    """One instance of every kind; the flag says whether it is random."""
    return {
        "gaussian_noise": (GaussianNoise(sigma=(5, 50)), True),
        "poisson_gaussian": (PoissonGaussian(), True),
        "film_grain": (FilmGrain(), True),
        "gaussian_blur": (GaussianBlur(sigma=(0.5, 3)), True),
        "defocus_blur": (DefocusBlur(), True),
        "motion_blur": (MotionBlur(), True),
        "kernel_blur": (KernelBlur(path=str(kernel_file)), True),
        "jpeg": (Jpeg(quality=(10, 90)), True),
        "downscale": (Downscale(factor=3, method="area"), False),
        "resize": (Resize(scale=0.5, methods=("area", "bicubic")), True),
        "grayscale": (Grayscale(channels=1), False),
        "film_damage": (FilmDamage(path=str(overlays)), True),
        "print_like": (PrintLike(), True),
        "cracks": (Cracks(), True),
        "torn_edges": (TornEdges(), True),
        "crazing": (Crazing(), True),
        "water_stains": (WaterStains(), True),
        "print_scratches": (PrintScratches(), True),
    }


def test_every_kind_is_covered() -> None:
    kinds = {step.model_fields["kind"].default for step in get_args(get_args(Degradation)[0])}
    assert kinds == set(steps(Path("o"), Path("k")))


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("kind", sorted(steps(Path("o"), Path("k"))))
def test_seeded_shape_dtype_range(
    kind: str, channels: int, overlays: Path, kernel_file: Path
) -> None:
    step, random = steps(overlays, kernel_file)[kind]
    image = synthetic_photo(48, 60, seed=4)
    image = image if channels == 3 else image.mean(axis=2, keepdims=True)
    recipe = Recipe(name="one", steps=[step])
    first, again = recipe.apply(image, 7), recipe.apply(image, 7)
    assert np.array_equal(first.image, again.image) and np.array_equal(first.mask, again.mask)
    assert first.steps == again.steps
    if random:
        others = (recipe.apply(image, seed).image for seed in (8, 9, 10))
        assert any(not np.array_equal(first.image, other) for other in others)
    assert first.image.dtype == np.float32 and first.mask.dtype == np.float32
    assert first.image.min() >= 0 and first.image.max() <= 1
    expected = {"downscale": (16, 20), "resize": (24, 30)}.get(kind, (48, 60))
    out_channels = 1 if kind == "grayscale" else channels
    assert first.image.shape == (*expected, out_channels)
    assert first.mask.shape == expected
    assert first.steps[0]["kind"] == kind


def test_gaussian_noise_std_quantisation_and_range() -> None:
    gray = np.full((256, 256, 3), 0.5, np.float32)
    rng = np.random.default_rng(0)
    noisy, _ = GaussianNoise(sigma=25, clip=False, quantize=False).apply(gray, gray[..., 0], rng)
    assert abs((noisy - gray).std() * 255 - 25) < 0.05 * 25
    quantised = RECIPES["noise-25"].apply(gray, 1).image
    assert np.allclose(quantised * 255, np.round(quantised * 255), atol=1e-4)
    sigmas = [RECIPES["noise-blind"].apply(gray[:8, :8], s).steps[0]["sigma"] for s in range(50)]
    assert all(0 <= s <= 55 for s in sigmas) and len(set(sigmas)) == 50


@pytest.mark.parametrize(
    "params",
    [{"sigma": 300}, {"sigma": [30, 10]}, {"sigma": 10, "extra": 1}, {"sigma": "high"}],
)
def test_bounds_are_validated(params: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        GaussianNoise.model_validate(params)


def test_kernels_sum_to_one_and_load(tmp_path: Path, kernel_file: Path) -> None:
    made = [gaussian_kernel(2.0), gaussian_kernel(0), disk_kernel(2.5), motion_kernel(11, 37)]
    rgb = np.repeat(np.array([[0, 40, 0], [80, 255, 80], [0, 40, 0]], np.uint8)[..., None], 3, 2)
    Image.fromarray(rgb, "RGB").save(tmp_path / "k.png")
    loaded = [*load_kernels(tmp_path), *load_kernels(kernel_file)]
    assert len(loaded) == 3 and loaded[0].ndim == 2
    for kernel in made + loaded:
        assert kernel.dtype == np.float32 and abs(float(kernel.sum()) - 1) < 1e-5
    with pytest.raises(RestoreError, match="nowhere"):
        load_kernels(tmp_path / "nowhere")


def impulse(size: int = 41) -> np.ndarray:
    image = np.zeros((size, size, 1), np.float32)
    image[size // 2, size // 2] = 1
    return image


def test_gaussian_blur_of_an_impulse_is_the_kernel() -> None:
    blurred = Recipe(steps=[GaussianBlur(sigma=2.0)]).apply(impulse(), 0).image[..., 0]
    kernel = gaussian_kernel(2.0)
    r = kernel.shape[0] // 2
    np.testing.assert_allclose(blurred[20 - r : 21 + r, 20 - r : 21 + r], kernel, atol=1e-6)
    assert abs(blurred.sum() - 1) < 1e-5


def test_kernel_blur_convolves(tmp_path: Path) -> None:
    kernel = np.zeros((5, 5), np.float32)
    kernel[1, 3], kernel[2, 2] = 0.75, 0.25  # asymmetric: orientation matters
    np.save(tmp_path / "k.npy", kernel)
    blurred = Recipe(steps=[KernelBlur(path=str(tmp_path / "k.npy"))]).apply(impulse(), 0)
    np.testing.assert_allclose(blurred.image[18:23, 18:23, 0], kernel, atol=1e-6)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((a - b) ** 2)))


@pytest.mark.parametrize("channels", [1, 3])
def test_jpeg_psnr_rises_with_quality(channels: int) -> None:
    image = synthetic_photo(64, 64, seed=2)
    image = image if channels == 3 else image.mean(axis=2, keepdims=True)
    qualities = (10, 30, 50, 70, 90)
    scores = [psnr(image, Recipe(steps=[Jpeg(quality=q)]).apply(image, 0).image) for q in qualities]
    assert scores == sorted(scores) and scores[0] < scores[-1] - 5


def test_downscale_shapes_and_restore_size() -> None:
    image = synthetic_photo(50, 64)
    assert RECIPES["downscale-x4"].apply(image, 0).image.shape == (12, 16, 3)
    restored = Recipe(steps=[Downscale(factor=2, restore_size=True)]).apply(image, 0).image
    assert restored.shape == image.shape and 20 < psnr(image, restored) < 60


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("dark", [0.0, 1.0])
def test_film_damage_mask_marks_exactly_the_changed_pixels(
    overlays: Path, channels: int, dark: float
) -> None:
    image = np.full((64, 80, channels), 0.5, np.float32)
    step = FilmDamage(path=str(overlays), count=(4, 8), opacity=(0.5, 1), dark_probability=dark)
    for seed in range(5):
        result = Recipe(steps=[step]).apply(image, seed)
        change = np.abs(result.image - image).max(axis=2)
        limit = 0.5 * step.threshold  # white/black over 0.5 changes a pixel by 0.5 * alpha
        clear = np.abs(change - limit) > 1e-4  # leave out pixels at the threshold itself
        assert result.mask.any() and set(np.unique(result.mask)) <= {0.0, 1.0}
        assert np.array_equal(result.mask[clear] == 1, change[clear] > limit)


def test_film_damage_min_change_leaves_out_overlays_that_change_nothing(overlays: Path) -> None:
    """White artifacts over a white band change nothing there: not damage, with min_change."""
    image = np.full((64, 80, 3), 0.4, np.float32)
    image[:, 40:] = 1.0
    plain = FilmDamage(path=str(overlays), count=(6, 8), opacity=1.0)
    seen = plain.model_copy(update={"min_change": 0.05})
    for seed in range(4):
        every, visible = (Recipe(steps=[s]).apply(image, seed) for s in (plain, seen))
        np.testing.assert_array_equal(every.image, visible.image)  # the same damage drawn
        assert visible.mask[:, 42:].sum() == 0 < every.mask[:, 42:].sum()
        left, kept = every.mask[:, :38], visible.mask[:, :38]  # over 0.4: changed by 0.6 alpha
        assert np.all(kept <= left) and kept.sum() >= 0.8 * left.sum()


def test_film_damage_missing_folders(tmp_path: Path, overlays: Path) -> None:
    image = np.zeros((8, 8, 3), np.float32)
    with pytest.raises(RestoreError, match="nowhere"):
        Recipe(steps=[FilmDamage(path=str(tmp_path / "nowhere"))]).apply(image, 0)
    with pytest.raises(RestoreError, match="hair"):
        Recipe(steps=[FilmDamage(path=str(overlays), types=["hair"])]).apply(image, 0)


def test_load_recipe_builtins_and_yaml(tmp_path: Path, overlays: Path) -> None:
    needed = {"noise-15", "noise-25", "noise-50", "noise-blind", "sensor-noise", "grain"}
    needed |= {"blur-gaussian", "blur-motion", "blur-kernels", "jpeg-20", "jpeg-blind"}
    needed |= {"downscale-x2", "downscale-x4", "gray", "old-photo", "old-print", "damage"}
    assert needed <= set(RECIPES)
    for name in RECIPES:
        recipe = load_recipe(name, data=tmp_path)
        assert recipe.name == name and recipe.description
    kernels = load_recipe("blur-kernels", data=tmp_path).steps[0]
    assert isinstance(kernels, KernelBlur) and kernels.path == str(tmp_path / "blur_kernels")
    path = tmp_path / "mine.yaml"
    path.write_text(
        "description: noise then damage\nsteps:\n"
        "  - {kind: gaussian_noise, sigma: [5, 10]}\n"
        f"  - {{kind: film_damage, path: {overlays}, count: 2}}\n"
    )
    recipe = load_recipe(path)
    assert recipe.name == "mine" and recipe.makes_mask
    assert recipe.steps[0].sigma == (5, 10)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("steps: [{kind: gaussian_noise, sigma: [1, 2}", "invalid YAML: line"),
        ("steps: [{kind: sparkle}]", "steps.0"),
        ("steps: [{kind: jpeg, quality: 0}]", "quality"),
        ("- just a list", "a recipe must be a mapping"),
    ],
)
def test_bad_recipe_files_give_one_line(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(PipelineError) as caught:
        load_recipe(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and problem in message and "\n" not in message


def test_unknown_recipe_name() -> None:
    with pytest.raises(PipelineError, match="no-such-recipe: unknown recipe") as caught:
        load_recipe("no-such-recipe")
    assert "\n" not in str(caught.value)


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    write_image(folder / "a.png", synthetic_photo(40, 48, seed=1))
    write_image(folder / "nested" / "b.jpg", synthetic_photo(32, 30, seed=2))
    write_image(folder / "gray.png", synthetic_photo(24, 24, seed=3)[..., :1])
    return folder


def files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*")
            if p.is_file()}  # fmt: skip


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["degrade", *args])
    return result.exit_code, result.output


def test_cli_is_reproducible(photos: Path, tmp_path: Path) -> None:
    outs = [tmp_path / "one", tmp_path / "two", tmp_path / "three"]
    for out, seed in zip(outs, ("3", "3", "4"), strict=True):
        code, output = invoke("noise-25", str(photos), "-o", str(out), "--seed", seed)
        assert code == 0, output
    first = files(outs[0])
    assert set(first) == {"a.png", "nested/b.png", "gray.png"}
    assert first == files(outs[1]) and first != files(outs[2])
    written = read_image(outs[0] / "gray.png")
    assert written.pixels.shape == (24, 24, 1) and written.bit_depth == 8


def test_cli_never_replaces_a_file_unless_asked(photos: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert invoke("noise-25", str(photos), "-o", str(out))[0] == 0
    (out / "a.png").write_bytes(b"someone else's")
    code, output = invoke("noise-25", str(photos), "-o", str(out))
    assert code == 1 and "a.png: already exists (use --overwrite)" in output
    assert (out / "a.png").read_bytes() == b"someone else's"
    assert invoke("noise-25", str(photos), "-o", str(out), "--overwrite")[0] == 0
    assert read_image(out / "a.png").pixels.shape == (40, 48, 3)


def test_cli_goes_on_past_a_corrupt_file(photos: Path, tmp_path: Path) -> None:
    (photos / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    code, output = invoke("gray", str(photos), "-o", str(tmp_path / "out"))
    assert code == 1 and "broken.png" in output and "3 done, 1 failed" in output
    assert set(files(tmp_path / "out")) == {"a.png", "nested/b.png", "gray.png"}


def test_cli_writes_masks_for_damage(photos: Path, tmp_path: Path, overlays: Path) -> None:
    recipe = tmp_path / "dust.yaml"
    recipe.write_text(f"steps:\n  - {{kind: film_damage, path: {overlays}, count: [2, 4]}}\n")
    out = tmp_path / "out"
    code, output = invoke(str(recipe), str(photos), "-o", str(out), "--seed", "1")
    assert code == 0, output
    assert {"a.mask.png", "nested/b.mask.png", "gray.mask.png"} <= set(files(out))
    mask = read_image(out / "a.mask.png").pixels
    assert mask.shape == (40, 48, 1) and mask.max() == 1


def test_cli_list_and_errors(photos: Path, tmp_path: Path) -> None:
    code, output = invoke("--list")
    assert code == 0 and all(name in output for name in RECIPES)
    code, output = invoke("nope", str(photos), "-o", str(tmp_path / "out"))
    assert code == 2 and "unknown recipe" in output
    code, output = invoke("damage", str(photos), "-o", str(tmp_path / "o"), "--data", "/none")
    assert code == 1 and "/none/film_damage_overlays" in output


@pytest.mark.skipif(not (SHARED / "film_damage_overlays").is_dir(), reason="no ../shared/data")
def test_real_overlays_and_kernels() -> None:
    kernels = load_kernels(SHARED / "blur_kernels")
    assert len(kernels) == 16 and all(abs(float(k.sum()) - 1) < 1e-4 for k in kernels)
    image = synthetic_photo(96, 128)
    for name in ("old-photo", "old-print", "damage", "blur-kernels"):
        result = load_recipe(name, data=SHARED).apply(image, 11)
        assert result.image.shape == image.shape and 0 <= result.image.min() <= 1
        if name != "blur-kernels":
            assert 0 < result.mask.mean() < 0.9


def test_cli_refuses_two_sources_for_one_output(photos: Path, tmp_path: Path) -> None:
    write_image(photos / "a.jpg", synthetic_photo(40, 48, seed=9))
    out = tmp_path / "out"
    code, output = invoke("gray", str(photos), "-o", str(out))
    assert code == 1 and "3 done, 1 failed" in output
    assert f"output {out / 'a.png'} is already written from a." in output
