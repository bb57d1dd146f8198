"""Lesion measurements on shapes with known answers, colours on painted lesions, the table."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

# pandas (the table) and scikit-image (reference shapes and figures) are in the training install.
pd = pytest.importorskip("pandas")
pytest.importorskip("skimage")
from skimage.draw import disk, ellipse, polygon  # noqa: E402
from skimage.measure import regionprops  # noqa: E402

from dermaseg.measure import (
    ASYMMETRY_THRESHOLD,
    COLOURS,
    measure_lesions,
    measurements_table,
    total_dermoscopy_score,
)
from dermaseg.measure.shape import feret_diameter_max

SKIN = (215, 180, 165)
# Plausible dermoscopic colours (sRGB) a painted lesion is made of.
PAINT = {
    "white": (235, 232, 230),
    "red": (190, 60, 80),
    "light_brown": (185, 130, 90),
    "dark_brown": (95, 55, 35),
    "blue_gray": (100, 120, 140),
    "black": (25, 20, 20),
}


def disc_mask(shape, centre, radius) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    rr, cc = disk(centre, radius, shape=shape)
    mask[rr, cc] = 255
    return mask


def rotated_square(side: float, degrees: float) -> np.ndarray:
    n = int(side * 1.5) + 10
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * side / 2
    a = np.deg2rad(degrees)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pts = corners @ rot.T + n / 2
    mask = np.zeros((n, n), np.uint8)
    rr, cc = polygon(pts[:, 1], pts[:, 0], (n, n))
    mask[rr, cc] = 255
    return mask


def only(results: list[dict]) -> dict:
    assert len(results) == 1, results
    return results[0]


# --- size and shape -------------------------------------------------------------------


def test_disc_has_the_textbook_figures():
    r = 60
    m = only(measure_lesions(disc_mask((200, 220), (100, 110), r)))
    assert m["lesion_index"] == 1
    assert m["area_px"] == pytest.approx(math.pi * r * r, rel=0.01)
    assert m["perimeter_px"] == pytest.approx(2 * math.pi * r, rel=0.03)
    assert m["equivalent_diameter_px"] == pytest.approx(2 * r, rel=0.01)
    assert m["max_feret_diameter_px"] == pytest.approx(2 * r, rel=0.02)
    assert m["border_irregularity"] == pytest.approx(1.0, abs=0.03)
    assert (m["centroid_x"], m["centroid_y"]) == pytest.approx((110, 100), abs=0.01)
    assert m["asymmetry_major"] < 0.02 and m["asymmetry_minor"] < 0.02
    assert m["asymmetry_shape_score"] == 0


def test_ellipse_feret_is_its_major_axis_and_it_is_symmetric_about_both_axes():
    a, b = 140, 50
    mask = np.zeros((320, 400), np.uint8)
    rr, cc = ellipse(160, 200, b, a, rotation=0.6)
    mask[rr, cc] = 255
    m = only(measure_lesions(mask))
    assert m["max_feret_diameter_px"] == pytest.approx(2 * a, rel=0.01)
    assert m["major_axis_length_px"] == pytest.approx(2 * a, rel=0.02)
    assert m["minor_axis_length_px"] == pytest.approx(2 * b, rel=0.02)
    h = ((a - b) / (a + b)) ** 2  # Ramanujan's perimeter of an ellipse
    assert m["perimeter_px"] == pytest.approx(math.pi * (a + b) * (1 + 3 * h / (10 + math.sqrt(4 - 3 * h))), rel=0.02)
    assert m["asymmetry_major"] < 0.02 and m["asymmetry_minor"] < 0.02
    assert m["asymmetry_shape_score"] == 0


def test_square_feret_is_its_diagonal_and_compactness_is_four_over_pi():
    side = 100
    mask = np.zeros((side + 20, side + 20), np.uint8)
    mask[10:10 + side, 10:10 + side] = 255
    m = only(measure_lesions(mask))
    assert m["area_px"] == side * side
    assert m["max_feret_diameter_px"] == pytest.approx(side * math.sqrt(2), rel=0.01)
    assert m["asymmetry_major"] < 0.02 and m["asymmetry_minor"] < 0.02
    # Crofton's estimate is orientation dependent on straight edges (-5% at 0 degrees), so
    # one axis-aligned square is only near 4/pi; averaged over orientations it is exact.
    assert m["border_irregularity"] == pytest.approx(4 / math.pi, rel=0.12)
    compactness = [only(measure_lesions(rotated_square(side, deg)))["border_irregularity"]
                   for deg in range(0, 90, 5)]
    assert np.mean(compactness) == pytest.approx(4 / math.pi, rel=0.03)


def test_disc_with_a_bump_is_asymmetric_about_its_minor_axis_only():
    shape = (300, 320)
    mask = disc_mask(shape, (150, 140), 60) | disc_mask(shape, (150, 205), 30)  # bump on the right
    m = only(measure_lesions(mask))
    # The bump lies on the major (horizontal) axis: flipping about it changes nothing,
    # flipping about the minor axis moves the bump to the other side.
    assert m["asymmetry_major"] < 0.02
    assert m["asymmetry_minor"] > ASYMMETRY_THRESHOLD
    assert m["asymmetry_shape_score"] == 1


def test_fast_feret_matches_regionprops():
    rng = np.random.default_rng(0)
    blob = np.zeros((120, 140), bool)
    for _ in range(6):  # an irregular union of discs
        rr, cc = disk((rng.integers(40, 80), rng.integers(40, 100)), rng.integers(8, 25), shape=blob.shape)
        blob[rr, cc] = True
    shapes = [disc_mask((100, 100), (50, 50), 30) > 0, rotated_square(60, 20) > 0, blob]
    for region in shapes:
        expected = regionprops(region.astype(np.uint8))[0].feret_diameter_max
        assert feret_diameter_max(region) == pytest.approx(expected, abs=1.0)


def test_two_blobs_are_two_lesions_largest_first_and_specks_are_dropped():
    shape = (200, 300)
    small = disc_mask(shape, (50, 50), 20)  # first in raster order, but smaller
    large = disc_mask(shape, (120, 200), 45)
    speck = np.zeros(shape, np.uint8)
    speck[190:193, 5:8] = 255  # 9 px, below min_area_px
    results = measure_lesions(small | large | speck, min_area_px=20)
    assert [r["lesion_index"] for r in results] == [1, 2]
    assert results[0]["area_px"] > results[1]["area_px"]
    assert (results[0]["centroid_x"], results[0]["centroid_y"]) == pytest.approx((200, 120), abs=0.01)
    assert (results[1]["centroid_x"], results[1]["centroid_y"]) == pytest.approx((50, 50), abs=0.01)
    assert len(measure_lesions(small | large | speck, min_area_px=1)) == 3


def test_holes_are_filled_and_an_island_in_a_hole_is_part_of_the_lesion():
    shape = (200, 200)
    ring = disc_mask(shape, (100, 100), 80) & ~disc_mask(shape, (100, 100), 40)
    island = disc_mask(shape, (100, 100), 15)
    m = only(measure_lesions(ring | island, min_area_px=10))
    assert m["area_px"] == np.count_nonzero(disc_mask(shape, (100, 100), 80))


@pytest.mark.parametrize("make", [
    lambda m: m > 0,  # bool
    lambda m: (m > 0).astype(np.uint8),  # {0,1}
    lambda m: m[..., None],  # (H, W, 1)
    lambda m: np.where(m > 0, 0.8, 0.3).astype(np.float32),  # probabilities, threshold 0.5
])
def test_mask_conventions_are_read_alike(make):
    mask = disc_mask((100, 120), (50, 60), 30)
    assert measure_lesions(make(mask)) == measure_lesions(mask)


def test_empty_masks_give_no_lesions():
    assert measure_lesions(np.zeros((50, 60), np.uint8)) == []
    assert measure_lesions(np.zeros((50, 60), bool), image=np.zeros((50, 60, 3), np.uint8)) == []
    specks = np.zeros((50, 60), np.uint8)
    specks[10:12, 10:12] = 255
    assert measure_lesions(specks) == []


def test_millimetres_scale_lengths_linearly_and_areas_squared():
    mask = np.zeros((320, 400), np.uint8)
    rr, cc = ellipse(160, 200, 50, 140, rotation=0.3)
    mask[rr, cc] = 255
    px = only(measure_lesions(mask))
    assert not any(key.endswith(("_mm", "_mm2")) for key in px)
    mm = only(measure_lesions(mask, mm_per_pixel=0.02))
    assert mm["area_mm2"] == pytest.approx(px["area_px"] * 0.02 ** 2)
    for name in ("perimeter", "equivalent_diameter", "max_feret_diameter", "major_axis_length", "minor_axis_length"):
        assert mm[f"{name}_mm"] == pytest.approx(px[f"{name}_px"] * 0.02)
    assert mm["max_feret_diameter_mm"] == pytest.approx(2 * 140 * 0.02, rel=0.01)  # a 5.6 mm lesion


def test_large_mask_is_measured_like_a_small_one():
    # A 2400x3200 frame exercises the downscaled asymmetry and subsampled colours.
    small, large = np.zeros((240, 320), np.uint8), np.zeros((2400, 3200), np.uint8)
    small[ellipse(120, 160, 60, 110, rotation=0.4)] = 255
    large[ellipse(1200, 1600, 600, 1100, rotation=0.4)] = 255
    image = np.empty(large.shape + (3,), np.uint8)
    image[:] = SKIN
    image[large > 0] = PAINT["dark_brown"]
    s, m = only(measure_lesions(small)), only(measure_lesions(large, image, mm_per_pixel=0.001))
    assert m["area_px"] == pytest.approx(100 * s["area_px"], rel=0.01)
    assert m["max_feret_diameter_px"] == pytest.approx(10 * s["max_feret_diameter_px"], rel=0.01)
    assert m["border_irregularity"] == pytest.approx(s["border_irregularity"], rel=0.03)
    assert m["asymmetry_major"] < 0.02 and m["asymmetry_minor"] < 0.02
    assert m["colours_present"] == ["dark_brown"]


# --- colours and the ABCD score -------------------------------------------------------


def painted(colours: list[str], skin=SKIN, shape=(200, 240)):
    """A disc lesion split into equal vertical stripes, one per colour, on skin."""
    mask = disc_mask(shape, (100, 120), 70)
    image = np.empty(shape + (3,), np.uint8)
    image[:] = skin
    xs = np.nonzero(mask.any(axis=0))[0]
    edges = np.linspace(xs[0], xs[-1] + 1, len(colours) + 1).astype(int)
    for name, left, right in zip(colours, edges[:-1], edges[1:]):
        stripe = np.zeros_like(mask, bool)
        stripe[:, left:right] = True
        image[stripe & (mask > 0)] = PAINT[name]
    rng = np.random.default_rng(1)  # a little sensor noise
    image = np.clip(image.astype(int) + rng.integers(-6, 7, image.shape), 0, 255).astype(np.uint8)
    return mask, image


@pytest.mark.parametrize("colours", [
    ["dark_brown", "blue_gray"],
    ["light_brown"],
    ["light_brown", "dark_brown", "black"],
    ["red", "white", "blue_gray"],
    list(COLOURS),
])
def test_painted_colours_are_reported_exactly(colours):
    mask, image = painted(colours)
    m = only(measure_lesions(mask, image))
    assert m["colours_present"] == [c for c in COLOURS if c in colours]
    assert m["n_colours"] == len(colours)


@pytest.mark.parametrize("cast", [(1.0, 0.8, 0.8), (1.1, 0.85, 0.75), (0.85, 0.95, 1.15)])
def test_colours_survive_a_colour_cast(cast):
    # The same scene under a pink, a warm and a cold light: the skin white balance undoes
    # it (without it the pink and warm casts turn the white stripe into skin).
    mask, image = painted(["red", "white", "blue_gray"])
    tinted = np.clip(image * np.array(cast), 0, 255).astype(np.uint8)
    assert only(measure_lesions(mask, tinted))["colours_present"] == ["white", "red", "blue_gray"]


def test_tds_uses_the_parts_it_can_measure():
    shape = (300, 320)
    mask = disc_mask(shape, (150, 140), 60) | disc_mask(shape, (150, 205), 30)
    image = np.empty(shape + (3,), np.uint8)
    image[:] = SKIN
    image[mask > 0] = PAINT["light_brown"]
    image[disc_mask(shape, (150, 140), 25) > 0] = PAINT["dark_brown"]
    m = only(measure_lesions(mask, image))
    assert m["colours_present"] == ["light_brown", "dark_brown"]
    assert m["tds_parts"] == ["A", "C"]
    assert m["tds_partial"] == pytest.approx(1.3 * 1 + 0.5 * 2)
    no_image = only(measure_lesions(mask))
    assert no_image["colours_present"] is None and no_image["n_colours"] is None
    assert no_image["tds_parts"] == ["A"] and no_image["tds_partial"] == pytest.approx(1.3)


def test_total_dermoscopy_score_weights():
    assert total_dermoscopy_score(A=2, B=8, C=6, D=5) == (pytest.approx(1.3 * 2 + 0.8 + 3 + 2.5), ["A", "B", "C", "D"])
    assert total_dermoscopy_score(A=1, C=None) == (pytest.approx(1.3), ["A"])
    with pytest.raises(ValueError, match="E"):
        total_dermoscopy_score(E=1)


# --- inputs and the table ---------------------------------------------------------------


def test_bad_inputs_are_named():
    mask = disc_mask((100, 120), (50, 60), 30)
    with pytest.raises(ValueError, match="120x100.*image.*60x50"):
        measure_lesions(mask, np.zeros((50, 60, 3), np.uint8))
    with pytest.raises(ValueError, match="RGB uint8"):
        measure_lesions(mask, np.zeros((100, 120), np.uint8))
    with pytest.raises(ValueError, match="mm_per_pixel"):
        measure_lesions(mask, mm_per_pixel=0)
    with pytest.raises(ValueError, match="2-D"):
        measure_lesions(np.zeros((4, 5, 6), np.uint8))


def test_measurements_table_has_a_row_per_lesion_and_per_empty_image():
    shape = (200, 300)
    two = disc_mask(shape, (50, 50), 20) | disc_mask(shape, (120, 200), 45)
    mask, image = painted(["dark_brown", "blue_gray"])
    results = {
        "ISIC_1": measure_lesions(two, mm_per_pixel=0.01),
        "ISIC_2": measure_lesions(mask, image, mm_per_pixel=0.01),
        "ISIC_3": [],
    }
    table = measurements_table(results)
    assert list(table.columns[:3]) == ["image_id", "lesion_index", "area_px"]
    assert table["image_id"].tolist() == ["ISIC_1", "ISIC_1", "ISIC_2", "ISIC_3"]
    assert table["lesion_index"].tolist()[:3] == [1, 2, 1] and pd.isna(table["lesion_index"].iloc[3])
    assert table.loc[2, "colours_present"] == "dark_brown;blue_gray"
    assert table.loc[2, "tds_parts"] == "A;C"
    back = pd.read_csv(io.StringIO(table.to_csv(index=False)))
    assert back["area_mm2"].iloc[0] == pytest.approx(results["ISIC_1"][0]["area_mm2"])
    assert measurements_table({}).columns.tolist() == ["image_id"]


def test_results_are_plain_json():
    mask, image = painted(["dark_brown", "blue_gray"])
    results = measure_lesions(mask, image, mm_per_pixel=0.01)
    assert json.loads(json.dumps(results, allow_nan=False)) == results


def test_real_lesion_gives_plausible_figures(shared_data):
    from dermaseg.data.io import read_image, read_mask

    root = shared_data / "isic2017"
    image = read_image(root / "ISIC-2017_Training_Data" / "ISIC_0000000.jpg")
    mask = read_mask(root / "ISIC-2017_Training_Part1_GroundTruth" / "ISIC_0000000_segmentation.png")
    m = measure_lesions(mask, image, mm_per_pixel=0.05)[0]
    assert m["area_px"] >= np.count_nonzero(mask >= 128) * 0.95
    assert 1.0 <= m["border_irregularity"] < 3.0
    assert m["max_feret_diameter_px"] >= m["equivalent_diameter_px"]
    assert 1 <= m["n_colours"] <= 6
    assert set(m["colours_present"]) <= set(COLOURS)


def test_the_shipped_colour_name_table_is_the_one_the_references_give():
    """The 64^3 naming table ships precomputed (building it cost a third of a one-image run);
    it must be exactly what the reference colours and thresholds give."""
    from dermaseg.measure import colour

    shipped = np.load(colour.NAME_TABLE_FILE, allow_pickle=False)
    assert np.array_equal(shipped, colour.build_name_table()), (
        "colour_names.npy is stale: rewrite it (see the comment above NAME_TABLE_FILE)")
    assert np.array_equal(colour._name_table(), shipped)
