"""training/insert_pathology.py (issue 14, part 3): herniations inserted into axial slices by moving the disc's own
pixels. Side convention: radiological, the patient's left on the image's right."""

import os

import cv2
import numpy as np
import pytest

from training import insert_pathology as P

REAL_NAME = "train__with_pain__spine_0004.png"
HAVE_REAL = os.path.exists(os.path.join(P.IMG_DIR, REAL_NAME))
FOCAL = ("central", "left", "right")


def synthetic() -> tuple[np.ndarray, np.ndarray]:
    """320x320 image: textured dark ellipse disc (about 100) on a brighter background (about 180), disc wider
    left-right than front-back."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:320, 0:320]
    mask = ((xx - 160) / 42.0) ** 2 + ((yy - 150) / 26.0) ** 2 <= 1.0
    img = np.where(mask, 100, 180) + rng.normal(0, 6, mask.shape)
    return np.clip(img, 0, 255).astype(np.uint8), mask


def real() -> tuple[np.ndarray, np.ndarray]:
    return P.load_slice(REAL_NAME)


CASES = [
    pytest.param(synthetic, id="synthetic"),
    pytest.param(real, id="real", marks=pytest.mark.skipif(not HAVE_REAL, reason="shared Mendeley images absent")),
]


@pytest.mark.parametrize("source", CASES)
def test_sides_follow_radiological_convention(source):
    img, mask = source()
    g = P.disc_geometry(mask)
    cx, cy = g["c"]
    mid_x = cx + g["mid_s"] * g["u"][0]
    added = {}
    for kind in FOCAL:
        _, new_mask, info = P.insert(img, mask, kind, 5.0, 1.0, np.random.default_rng(0))
        add = (new_mask > 0) & ~mask
        assert add.sum() > 20, kind
        ys, xs = np.nonzero(add)
        assert np.all(ys > cy), f"{kind}: moved pixels must be posterior (below the centroid)"
        added[kind] = xs
    # patient's left = image right
    assert np.all(added["left"] > mid_x) and np.mean(added["left"]) > mid_x + 0.2 * g["half_width"]
    assert np.all(added["right"] < mid_x) and np.mean(added["right"]) < mid_x - 0.2 * g["half_width"]
    assert abs(np.mean(added["central"]) - mid_x) < 0.1 * g["half_width"]
    _, _, info = P.insert(img, mask, "left", 5.0, 1.0, None)
    assert info["side"] == "left" and info["image_side"] == "image right" and info["centre_xy"][0] > mid_x
    _, _, info = P.insert(img, mask, "right", 5.0, 1.0, None)
    assert info["side"] == "right" and info["image_side"] == "image left" and info["centre_xy"][0] < mid_x


@pytest.mark.parametrize("source", CASES)
@pytest.mark.parametrize(
    "kind,size,shape",
    [
        ("bulge", 2.0, "protrusion"),
        ("bulge", 3.0, "protrusion"),
        ("central", 2.0, "protrusion"),
        ("left", 5.0, "protrusion"),
        ("right", 8.0, "protrusion"),
        ("central", 7.0, "extrusion"),
        ("left", 6.0, "extrusion"),
    ],
)
def test_displacement_size_unchanged_far_and_no_folding(source, kind, size, shape):
    img, mask = source()
    new_img, new_mask, info = P.insert(img, mask, kind, size, 1.0, np.random.default_rng(1), shape=shape)
    assert new_img.dtype == img.dtype and new_img.shape == img.shape
    assert abs(info["max_displacement_mm"] - size) <= 0.2 * size, info
    assert info["min_jacobian"] > 0.1, "the warp folds"
    # pixels far from the posterior margin are exactly unchanged: the anterior half and everything 3 size away
    cy = P.disc_geometry(mask)["c"][1]
    assert np.array_equal(new_img[: int(cy)], img[: int(cy)])
    assert np.array_equal(new_mask[: int(cy)], mask[: int(cy)].astype(np.uint8))
    far = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5) > 3.5 * size + 3
    assert np.array_equal(new_img[far], img[far])
    assert info["changed_region_px"] < 0.5 * mask.size


@pytest.mark.parametrize("source", CASES)
@pytest.mark.parametrize("kind,shape", [("bulge", "protrusion"), ("central", "protrusion"), ("left", "extrusion")])
def test_inserted_material_is_disc(source, kind, shape):
    img, mask = source()
    size = 2.5 if kind == "bulge" else 6.0
    new_img, new_mask, _ = P.insert(img, mask, kind, size, 1.0, np.random.default_rng(2), shape=shape)
    nm = new_mask > 0
    disc_mean = img[mask].astype(float).mean()
    assert abs(new_img[nm].astype(float).mean() - disc_mean) < 4.0
    # the added region looks like the disc's posterior part, not like what was there before
    add = nm & ~mask
    post = mask & (np.arange(mask.shape[0])[:, None] > P.disc_geometry(mask)["c"][1])
    was = img[add].astype(float).mean()
    now = new_img[add].astype(float).mean()
    assert abs(now - img[post].astype(float).mean()) < abs(now - was) or abs(now - was) < 4.0
    if source is synthetic:  # a flat disc (100) on a flat background (180): the protrusion is disc-grey
        assert abs(now - 100) < 8


@pytest.mark.parametrize("source", CASES)
def test_deterministic(source):
    img, mask = source()
    a = P.insert(img, mask, "left", None, 1.0, np.random.default_rng(5), shape="extrusion")
    b = P.insert(img, mask, "left", None, 1.0, np.random.default_rng(5), shape="extrusion")
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
    c = P.insert(img, mask, "left", None, 1.0, np.random.default_rng(6), shape="extrusion")
    assert c[2]["size_mm"] != a[2]["size_mm"]
    assert 2.0 <= a[2]["size_mm"] <= 8.0


def test_pixel_spacing_scales_size():
    img, mask = synthetic()
    _, m1, i1 = P.insert(img, mask, "central", 4.0, 1.0, None)
    _, m2, i2 = P.insert(img, mask, "central", 4.0, 0.5, None)
    assert abs(i2["max_displacement_mm"] - 4.0) <= 0.8 and (m2 > m1).sum() > 0  # 8 pixels at 0.5 mm


def test_bad_input():
    img, mask = synthetic()
    with pytest.raises(ValueError, match="empty"):
        P.insert(img, np.zeros_like(mask), "central", 4.0)
    with pytest.raises(ValueError, match="unknown kind"):
        P.insert(img, mask, "foraminal", 4.0)
    for size in (0.0, -1.0, 12.5):
        with pytest.raises(ValueError, match="size_mm"):
            P.insert(img, mask, "central", size)
    with pytest.raises(ValueError, match="shape"):
        P.insert(img, mask, "central", 4.0, shape="sequestration")
    with pytest.raises(ValueError, match="bulge"):
        P.insert(img, mask, "bulge", 2.0, shape="extrusion")
    with pytest.raises(ValueError, match="same shape"):
        P.insert(img, mask[:100], "central", 4.0)
    with pytest.raises(ValueError, match="pixel_mm"):
        P.insert(img, mask, "central", 4.0, pixel_mm=0)
