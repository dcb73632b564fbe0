"""Print damage synthesis: masks match what was drawn, widths, shapes, PrintLike, old-print."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from restore.app.cli.main import app
from restore.io.images import read_image, write_image
from restore.lab.degrade import PrintLike, Recipe, load_recipe
from restore.lab.lettering import draw_lettering
from restore.lab.print_damage import (
    Cracks,
    Crazing,
    PrintScratches,
    TornEdges,
    WaterStains,
)
from restore.testing import synthetic_photo

KINDS: dict[str, Cracks | TornEdges | Crazing | WaterStains | PrintScratches] = {
    "cracks": Cracks(),
    "torn_edges": TornEdges(),
    "crazing": Crazing(),
    "water_stains": WaterStains(),
    "print_scratches": PrintScratches(),
}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root with two film-damage overlay types of white RGBA artifacts."""
    root = tmp_path_factory.mktemp("data")
    y, x = np.mgrid[0:40, 0:40]
    shapes = {"dust": (x - 12) ** 2 + (y - 20) ** 2 < 30, "scratch": abs(x - y) < 2}
    for kind, inside in shapes.items():
        folder = root / "film_damage_overlays" / kind
        folder.mkdir(parents=True)
        rgba = np.zeros((40, 40, 4), np.uint8)
        rgba[inside] = 255
        Image.fromarray(rgba, "RGBA").save(folder / f"{kind}-0.png")
    return root


def midtones(height: int, width: int, channels: int, seed: int) -> np.ndarray:
    """A textured photo in [0.35, 0.65], so that bright and dark damage both show."""
    image = 0.35 + 0.3 * synthetic_photo(height, width, seed=seed)
    return image if channels == 3 else image.mean(axis=2, keepdims=True)


def widths(mask: np.ndarray, percentile: float = 100) -> float:
    """The width of the mask's strokes in px (at a percentile of the distance-transform ridge)."""
    padded = cv2.copyMakeBorder((mask > 0).astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    ridge = (distance >= cv2.dilate(distance, np.ones((3, 3)))) & (distance > 0)
    return float(2 * np.percentile(distance[ridge], percentile) - 1)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_mask_is_where_the_picture_changed(kind: str, channels: int) -> None:
    recall, precision, drawn = [], [], 0
    for seed in range(6):
        image = midtones(96, 128, channels, seed)
        result = Recipe(steps=[KINDS[kind]]).apply(image, seed)
        again = Recipe(steps=[KINDS[kind]]).apply(image, seed)
        assert np.array_equal(result.image, again.image)
        assert np.array_equal(result.mask, again.mask)
        assert result.image.shape == image.shape and result.image.dtype == np.float32
        assert result.image.min() >= 0 and result.image.max() <= 1
        assert set(np.unique(result.mask)) <= {0.0, 1.0}
        change = np.abs(result.image - image).max(axis=2)
        mask = result.mask > 0
        drawn += int(mask.sum())
        changed = change > 0.12
        if changed.any():
            recall.append((mask & changed).sum() / changed.sum())
        precision.append((mask & (change > 0.02)).sum() / max(1, mask.sum()))
        # side effects outside the mask (edge darkening, stain tint, faint fringes) are slight
        assert change[~mask].max() < 0.12
    assert drawn > 0.01 * 6 * 96 * 128
    assert min(recall) >= 0.97 and min(precision) >= 0.9


@pytest.mark.parametrize("width", [1, 2, 4, 8, 15])
def test_crack_and_fold_widths(width: int) -> None:
    image = np.full((256, 256, 1), 0.5, np.float32)
    for fold in (0.0, 1.0):
        step = Cracks(count=1, width=width, branches=0, fold_probability=fold)
        measured = [widths(Recipe(steps=[step]).apply(image, seed).mask) for seed in range(6)]
        assert width - 0.5 <= max(measured) and all(m <= width + 2 for m in measured), measured
        assert np.median(measured) >= width - 1, measured  # the widest point may lie outside


def test_cracks_branch_into_narrower_cracks_within_1_to_15_px() -> None:
    image = np.full((256, 256, 3), 0.5, np.float32)
    plain = Cracks(count=1, width=10, branches=0, fold_probability=0)
    branched = Cracks(count=1, width=10, branches=4, fold_probability=0)
    alone = [Recipe(steps=[plain]).apply(image, seed).mask for seed in range(6)]
    trees = [Recipe(steps=[branched]).apply(image, seed).mask for seed in range(6)]
    assert sum(t.sum() for t in trees) > 1.3 * sum(a.sum() for a in alone)  # plus branches
    assert max(widths(t) for t in trees) <= 12.5  # no branch is wider than the trunk
    any_width = Cracks(count=1, width=(1, 15))
    for seed in range(8):
        result = Recipe(steps=[any_width]).apply(image, seed)
        assert all(1 <= w <= 15 for w in result.steps[0]["widths"])
        assert widths(result.mask) <= 17


def test_widths_are_capped_on_small_images() -> None:
    image = np.full((36, 48, 1), 0.5, np.float32)
    for step in (Cracks(width=15), PrintScratches(width=15)):
        result = Recipe(steps=[step]).apply(image, 3)
        assert result.steps[0]["widths"] and max(result.steps[0]["widths"]) == 3
        assert widths(result.mask) <= 5


@pytest.mark.parametrize("width", [2, 5, 8])
def test_scratches_are_long_straight_and_of_their_width(width: int) -> None:
    image = np.full((200, 300, 1), 0.5, np.float32)
    step = PrintScratches(count=1, width=width, dark_edge_probability=0)
    for seed in range(4):
        mask = Recipe(steps=[step]).apply(image, seed).mask
        assert width - 1 <= widths(mask) <= width + 2
        points = np.argwhere(mask > 0).astype(np.float64)
        spread = np.sqrt(np.linalg.eigvalsh(np.cov(points.T)))  # ascending
        assert spread[1] * np.sqrt(12) > 0.3 * 200  # length of a uniform segment
        assert spread[0] < 0.1 * spread[1] + width


def test_dark_edges_darken_beside_the_scratch() -> None:
    image = np.full((200, 300, 1), 0.5, np.float32)
    step = PrintScratches(count=1, width=6, dark_edge_probability=1)
    result = Recipe(steps=[step]).apply(image, 0)
    inside = result.image[result.mask > 0, 0]
    assert (inside > 0.7).mean() > 0.5 and (inside < 0.45).mean() > 0.1


def test_torn_corners_and_edges_reach_the_border() -> None:
    image = np.full((120, 160, 3), 0.5, np.float32)
    for corner in (0.0, 1.0):
        step = TornEdges(count=1, corner_probability=corner, dark_probability=1)
        for seed in range(6):
            result = Recipe(steps=[step]).apply(image, seed)
            mask = result.mask > 0
            assert result.steps[0]["shapes"] == ["corner" if corner else "edge"]
            count, labels = cv2.connectedComponents(mask.astype(np.uint8))
            assert count == 2  # one piece torn off
            border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
            assert (border == 1).any()
            if corner:
                assert mask[[0, 0, -1, -1], [0, -1, 0, -1]].any()
            assert 0.001 < mask.mean() < 0.5
            # dark backing with a white torn-paper rim beside the picture
            luma = result.image[mask].mean(axis=1)
            assert luma.min() < 0.25 and luma.max() > 0.75


def test_torn_edges_count_even_where_the_backing_matches() -> None:
    image = np.zeros((64, 64, 1), np.float32)  # about as dark as the backing
    step = TornEdges(count=2, dark_probability=1, rim=0)
    assert Recipe(steps=[step]).apply(image, 1).mask.mean() > 0.005
    stains = Recipe(steps=[WaterStains(count=3)]).apply(image, 1)  # darkening black: nothing
    assert stains.steps[0]["stains"] == 3 and not stains.mask.any()


def test_crazing_is_a_web_of_hairlines() -> None:
    image = np.full((256, 256, 1), 0.5, np.float32)
    step = Crazing(count=1, size=0.8, cell=0.05, width=1)
    cells = 0
    for seed in range(6):
        mask = Recipe(steps=[step]).apply(image, seed).mask > 0
        assert widths(mask, 50) <= 2.5  # hairlines
        _, _, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
        area = stats[1:, cv2.CC_STAT_AREA]
        cells += int(((area > 4) & (area < 40**2)).sum())  # closed cells of about 13 px
    assert cells >= 50


def test_water_stains_mark_tide_lines_not_the_tinted_inside() -> None:
    image = np.full((160, 160, 3), 0.5, np.float32)
    step = WaterStains(count=1, size=1.2, rings=1, rim_width=3, tint=0.06)
    stained = 0
    for seed in range(6):
        result = Recipe(steps=[step]).apply(image, seed)
        mask = result.mask > 0
        touched = np.abs(result.image - image).max(axis=2) > 0.005
        if not touched.any():  # the stain fell outside the picture
            continue
        stained += 1
        assert mask.sum() < 0.4 * touched.sum()  # a tide line, not the whole stain
        change = np.abs(result.image - image).max(axis=2)[touched & ~mask]
        assert 0.01 < np.median(change) < 0.06  # tinted inside, but faintly
        rim = result.image[mask]
        assert (rim[:, 0] > rim[:, 2]).all()  # brownish: blue darkened most
    assert stained >= 3


@pytest.mark.parametrize("channels", [1, 3])
def test_print_like_is_gray_or_sepia_and_faded(channels: int) -> None:
    image = synthetic_photo(64, 80, seed=5)
    image = image if channels == 3 else image[..., :1]
    mask = np.ones((64, 80), np.float32)
    for sepia, seed in ((0.0, 1), (1.0, 2)):
        step = PrintLike(sepia_probability=sepia, sepia=1, grain=0, blur=0, quality=95)
        out, kept = step.apply(image, mask, np.random.default_rng(seed))
        assert out.shape == image.shape and out.dtype == np.float32
        assert np.array_equal(kept, mask)
        assert out.min() >= 0 and out.max() <= 1
        if channels == 3 and sepia:
            mean = out.reshape(-1, 3).mean(axis=0)
            assert mean[0] > mean[1] + 0.02 > mean[2] + 0.04
        elif channels == 3:
            assert np.abs(out - out.mean(axis=2, keepdims=True)).max() < 3 / 255
    faded = PrintLike(sepia_probability=0, black=0.2, white=0.7, grain=0, blur=0, quality=100)
    out, _ = faded.apply(image, mask, np.random.default_rng(0))
    assert out.min() > 0.18 and out.max() < 0.72


@pytest.mark.parametrize("shape", [(32, 32, 1), (33, 57, 3), (96, 128, 3), (1024, 768, 1)])
def test_old_print_recipe(shape: tuple[int, int, int], data: Path) -> None:
    recipe = load_recipe("old-print", data=data)
    assert recipe.makes_mask and isinstance(recipe.steps[0], PrintLike)
    image = synthetic_photo(*shape[:2], seed=2)[..., : shape[2]]
    masks = []
    for seed in range(3 if shape[0] < 1000 else 1):
        result = recipe.apply(image, seed)
        assert np.array_equal(result.image, recipe.apply(image, seed).image)
        assert result.image.shape == shape and result.mask.shape == shape[:2]
        assert result.image.dtype == np.float32 and 0 <= result.image.min() <= 1
        masks.append(result.mask.mean())
    assert max(masks) > 0.001 and max(masks) < 0.6


def test_old_print_mask_is_the_union_of_all_damage(data: Path) -> None:
    recipe = load_recipe("old-print", data=data)
    image = 0.3 + 0.4 * synthetic_photo(128, 160, seed=4)
    for seed in range(6):
        rng = np.random.default_rng(seed)  # the print-like clean image, then the rest
        clean = Recipe(steps=recipe.steps[:1]).apply(image, rng).image
        damaged = Recipe(steps=recipe.steps[1:]).apply(clean, rng)
        whole = recipe.apply(image, seed)
        assert np.array_equal(whole.image, damaged.image)
        assert np.array_equal(whole.mask, damaged.mask)
        change = np.abs(whole.image - clean).max(axis=2)
        near = cv2.dilate(whole.mask, np.ones((3, 3))) > 0  # the final blur spreads edges
        assert (near & (change > 0.25)).sum() >= 0.95 * (change > 0.25).sum()
        assert (change[whole.mask > 0] > 0.03).mean() > 0.8


def test_old_print_from_the_cli(tmp_path: Path, data: Path) -> None:
    write_image(tmp_path / "in" / "a.png", synthetic_photo(48, 64, seed=1))
    out = tmp_path / "out"
    args = ["degrade", "old-print", str(tmp_path / "in"), "-o", str(out), "--data", str(data)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert read_image(out / "a.png").pixels.shape == (48, 64, 3)
    assert read_image(out / "a.mask.png").pixels.shape == (48, 64, 1)


def test_probability_zero_draws_nothing() -> None:
    image = midtones(40, 40, 3, 0)
    for step in KINDS.values():
        never = step.model_copy(update={"probability": 0.0})
        result = Recipe(steps=[never]).apply(image, 0)
        assert np.array_equal(result.image, image) and not result.mask.any()
        assert result.steps == [{"kind": step.kind, "drawn": False}]


def test_lettering_is_part_of_the_picture_not_damage() -> None:
    image = np.full((96, 128, 3), 0.5, np.float32)
    lettered = Recipe(steps=[PrintLike(lettering_probability=1.0, lettering=(3, 3))])
    for seed in range(4):
        result = lettered.apply(image, seed)
        assert result.steps[0]["lettering"] == 3 and not result.mask.any()
        written = image.copy()
        draw_lettering(written, np.random.default_rng(seed), 3)
        ink = np.abs(written - image).max(axis=2) > 0.15
        assert 0.002 < ink.mean() < 0.5  # writing is drawn, and leaves the picture legible
    unlettered = Recipe(steps=[PrintLike(lettering_probability=0.0)]).apply(image, 0)
    assert unlettered.steps[0]["lettering"] == 0
