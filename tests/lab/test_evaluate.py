"""Metrics (PSNR, SSIM, colourfulness), evaluation reports, contact sheets and `restore eval`."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from rich.console import Console
from skimage.metrics import structural_similarity
from typer.testing import CliRunner

from restore.api.errors import RestoreError
from restore.app.cli.main import app
from restore.io.images import read_image, write_image
from restore.lab.degrade import file_seed, load_recipe
from restore.lab.evaluate import (
    CAPTION_HEIGHT,
    GAP,
    LABEL_HEIGHT,
    contact_sheet,
    detail_window,
    evaluate,
    pairs_from_folders,
    pairs_from_recipe,
)
from restore.lab.metrics import colourfulness, describe_convention, gmsd, psnr, ssim
from restore.testing import synthetic_photo

ROOT = Path(__file__).resolve().parents[2]
DENOISE = str(ROOT / "examples" / "pipelines" / "denoise.yaml")


def noisy(image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(image + rng.normal(0, sigma / 255, image.shape), 0, 1).astype(np.float32)


def box_blur(image: np.ndarray) -> np.ndarray:
    return cv2.blur(image, (3, 3), borderType=cv2.BORDER_REFLECT_101).reshape(image.shape)


def test_psnr_identical_known_mse_and_quantisation() -> None:
    image = np.round(synthetic_photo(32, 40) * 255) / 255  # on the 8-bit grid
    assert psnr(image, image) == math.inf
    assert psnr(image + 0.4 / 255, image) == math.inf  # under half an 8-bit step
    reference = np.full((16, 16, 3), 100 / 255, np.float32)
    result = reference + 2 / 255  # every value off by 2: MSE 4
    assert psnr(result, reference) == pytest.approx(10 * math.log10(255**2 / 4))
    assert psnr(reference + 1.6 / 255, reference) == pytest.approx(10 * math.log10(255**2 / 4))


def test_y_convention_and_border() -> None:
    clean = synthetic_photo(40, 40)
    result = noisy(clean, 20, seed=1)
    assert psnr(result, clean, convention="y") != pytest.approx(psnr(result, clean))
    assert ssim(result, clean, convention="y") != pytest.approx(ssim(result, clean))
    gray, gray_result = clean[..., :1], result[..., :1]
    for metric in (psnr, ssim):
        assert metric(gray_result, gray, convention="y") == metric(gray_result, gray)
    # Y of a uniform step: 219/255 of the RGB step (MATLAB rgb2ycbcr scale)
    flat = np.full((8, 8, 3), 100 / 255, np.float32)
    step = flat + 10 / 255
    assert psnr(step, flat, convention="y") == pytest.approx(
        20 * math.log10(255 / (10 * 219 / 255))
    )
    damaged = clean.copy()
    damaged[:3] = 1 - damaged[:3]
    damaged[:, -3:] = 0
    assert psnr(damaged, clean, border=3) == math.inf
    assert psnr(damaged, clean, border=2) < 30
    assert ssim(damaged, clean, border=3) == pytest.approx(1.0)
    assert describe_convention("y", 4).startswith("PSNR/SSIM on 8-bit Y")
    assert "border 4" in describe_convention("y", 4)
    assert describe_convention() == (
        "PSNR/SSIM on 8-bit RGB, border 0, SSIM: Gaussian window sigma 1.5"
    )
    with pytest.raises(ValueError, match="convention"):
        psnr(result, clean, convention="lab")
    with pytest.raises(ValueError, match="shape"):
        psnr(result[:10], clean)


def test_ssim_matches_skimage_and_colourfulness() -> None:
    clean = synthetic_photo(48, 40)
    result = noisy(clean, 25, seed=2)
    a, b = (np.round(x * 255) for x in (result, clean))
    expected = structural_similarity(
        b, a, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        data_range=255, channel_axis=2,
    )  # fmt: skip
    assert ssim(result, clean) == pytest.approx(expected)
    assert ssim(clean, clean) == pytest.approx(1.0)
    assert colourfulness(clean.mean(axis=2, keepdims=True)) == 0
    assert colourfulness(np.repeat(clean[..., :1], 3, axis=2)) == 0
    saturated = np.zeros((8, 8, 3), np.float32)
    saturated[::2, :, 0] = 1
    saturated[1::2, :, 2] = 1
    assert colourfulness(saturated) > 100


def test_gmsd_grows_with_blur_and_false_detail() -> None:
    clean = synthetic_photo(64, 64, seed=4)
    assert gmsd(clean, clean) == 0
    blurred = [cv2.GaussianBlur(clean, (0, 0), sigma) for sigma in (0.8, 2.0)]
    scores = [gmsd(image, clean) for image in blurred]
    assert 0 < scores[0] < scores[1]
    assert gmsd(noisy(clean, 15, seed=1), clean) > scores[0]
    gray = clean.mean(axis=2, keepdims=True)
    assert gmsd(gray, gray) == 0 < gmsd(blurred[1].mean(axis=2, keepdims=True), gray)
    assert gmsd(blurred[1], clean, border=4) != scores[1]


def pairs(count: int = 2) -> list[tuple[str, np.ndarray, np.ndarray]]:
    images = [synthetic_photo(48, 56, seed=s) for s in range(count)]
    return [(f"im{s}.png", noisy(im, 30, seed=s), im) for s, im in enumerate(images)]


def test_evaluate_report(tmp_path: Path) -> None:
    report = evaluate(
        {"identity": lambda x: x, "blur": box_blur}, pairs(), convention="rgb", border=1
    )
    assert [(r.image, r.method) for r in report.rows[:3]] == [
        ("im0.png", "input"), ("im0.png", "identity"), ("im0.png", "blur"),
    ]  # fmt: skip
    means = report.means()
    assert list(means) == ["input", "identity", "blur"]
    assert means["blur"][0] > means["identity"][0] + 2 and means["blur"][1] > means["identity"][1]
    assert means["identity"][:2] == means["input"][:2]
    blur_rows = [r for r in report.rows if r.method == "blur"]
    assert means["blur"][0] == pytest.approx(np.mean([r.psnr for r in blur_rows]))
    assert means["blur"][1] == pytest.approx(np.mean([r.ssim for r in blur_rows]))
    assert means["input"][2] is None and means["blur"][2] > 0
    assert blur_rows[0].megapixels == pytest.approx(48 * 56 / 1e6)
    assert report.convention == describe_convention("rgb", 1)

    report.to_csv(tmp_path / "r.csv")
    with (tmp_path / "r.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 6 and rows[2]["method"] == "blur"
    assert float(rows[2]["psnr"]) == pytest.approx(blur_rows[0].psnr, abs=1e-3)

    report.to_json(tmp_path / "r.json")
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["convention"] == report.convention
    assert document["means"]["blur"]["psnr"] == pytest.approx(means["blur"][0])
    assert document["means"]["input"]["mp_per_s"] is None
    assert len(document["rows"]) == 6

    console = Console(record=True, width=100)
    console.print(report.table())
    text = console.export_text()
    assert all(name in text for name in ("input", "identity", "blur", "PSNR", "SSIM", "MP/s"))


def test_identical_images_give_inf_written_as_null(tmp_path: Path) -> None:
    image = synthetic_photo(24, 24)
    report = evaluate({"same": lambda x: x}, [("a", image, image)])
    assert report.rows[0].psnr == math.inf and report.means()["same"][0] == math.inf
    document = json.loads(report.to_json(tmp_path / "r.json").read_text())
    assert document["rows"][0]["psnr"] is None and document["means"]["same"]["psnr"] is None
    assert document["rows"][0]["ssim"] == pytest.approx(1.0)
    report.to_csv(tmp_path / "r.csv")
    assert "inf" in (tmp_path / "r.csv").read_text()


def test_contact_sheet_size_and_window(tmp_path: Path) -> None:
    panels = [
        (name, [("input", degraded), ("blur", box_blur(degraded)), ("reference", clean)])
        for name, degraded, clean in pairs(2)
    ]
    path = contact_sheet(tmp_path / "sheet.png", panels, crop=32)
    sheet = read_image(path).pixels
    assert sheet.shape == (LABEL_HEIGHT + 2 * (32 + CAPTION_HEIGHT), 3 * 32 + 2 * GAP, 3)
    assert sheet[:LABEL_HEIGHT].min() < 0.5  # labels drawn
    # all images smaller than the crop: cells shrink to them
    small = contact_sheet(tmp_path / "small.png", panels[:1], crop=500, window="centre")
    assert read_image(small).pixels.shape == (
        LABEL_HEIGHT + 48 + CAPTION_HEIGHT,
        3 * 56 + 2 * GAP,
        3,
    )
    # the detail window finds the only textured region
    flat = np.full((100, 120, 3), 0.5, np.float32)
    flat[60:90, 70:100] = np.random.default_rng(0).uniform(0, 1, (30, 30, 3))
    top, left = detail_window(flat, 32)
    assert 52 <= top <= 64 and 62 <= left <= 74


def test_pairs_from_folders(tmp_path: Path) -> None:
    clean, degraded = tmp_path / "clean", tmp_path / "degraded"
    for relative, seed in (("a.png", 1), ("sub/b.jpg", 2)):
        write_image(clean / relative, synthetic_photo(24, 32, seed=seed))
    write_image(degraded / "a.png", synthetic_photo(24, 32, seed=5))
    write_image(degraded / "a.mask.png", np.zeros((24, 32), np.float32))  # ignored
    write_image(degraded / "sub" / "b.png", synthetic_photo(24, 32, seed=6))
    found = list(pairs_from_folders(degraded, clean))
    assert [name for name, _, _ in found] == ["a.png", "sub/b.jpg"]
    assert found[0][1].shape == found[0][2].shape == (24, 32, 3)

    (degraded / "sub" / "b.png").unlink()
    with pytest.raises(RestoreError, match=r"b\.jpg: no matching file in") as caught:
        pairs_from_folders(degraded, clean)
    assert "\n" not in str(caught.value)
    write_image(degraded / "extra.png", synthetic_photo(24, 32))
    write_image(degraded / "sub" / "b.png", synthetic_photo(24, 32))
    with pytest.raises(RestoreError, match=r"extra\.png: no matching file"):
        pairs_from_folders(degraded, clean)


def test_pairs_from_recipe_uses_the_degrade_seeds(tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    write_image(clean / "x" / "a.png", synthetic_photo(24, 32, seed=1))
    ((name, degraded, reference),) = pairs_from_recipe(clean, "noise-25", seed=3)
    expected = load_recipe("noise-25").apply(reference, file_seed(3, "x/a.png")).image
    assert name == "x/a.png" and np.array_equal(degraded, expected)
    with pytest.raises(RestoreError, match="unknown recipe"):
        pairs_from_recipe(clean, "no-such-recipe")


def test_cli_eval(tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    write_image(clean / "a.png", synthetic_photo(64, 64, seed=1))
    write_image(clean / "b.png", synthetic_photo(64, 64, seed=2))
    runner = CliRunner()
    args = [
        "eval", DENOISE, "--clean", str(clean), "--recipe", "noise-25",
        "--report", str(tmp_path / "out" / "r"), "--sheet", str(tmp_path / "s.png"),
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "PSNR/SSIM on 8-bit RGB, border 0" in result.output
    table = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert {"input", "denoise"} <= set(table)
    document = json.loads((tmp_path / "out" / "r.json").read_text())
    means = document["means"]
    assert means["denoise"]["psnr"] > means["input"]["psnr"] + 2
    assert f"{means['denoise']['psnr']:.2f}" in table["denoise"]
    assert (tmp_path / "out" / "r.csv").read_text().count("\n") == 5
    assert read_image(tmp_path / "s.png").pixels.shape[0] == LABEL_HEIGHT + 2 * (
        64 + CAPTION_HEIGHT
    )

    bad = runner.invoke(app, ["eval", DENOISE, "--clean", str(clean)])
    assert bad.exit_code == 2 and "--recipe" in bad.output
    both = ["eval", DENOISE, "--recipe", "noise-25", "--pairs", str(clean), str(clean)]
    assert runner.invoke(app, both).exit_code == 2
    wrong = runner.invoke(
        app, ["eval", DENOISE, "--pairs", str(clean), str(clean), "--border", "-1"]
    )
    assert wrong.exit_code == 2 and "--border" in wrong.output
