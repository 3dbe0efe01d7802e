import cv2
import numpy as np
import pytest

from training import preprocess as P
from training.datasets import AXIAL_CLASSES, SAGITTAL_CLASSES


def test_to_uint8_matches_window_ts_rule():
    v = np.arange(1000, dtype=np.int32)  # n = 1000: lo rank ceil(5) -> 4, hi rank ceil(995) -> 994
    lo, hi = P.percentile_window(v)
    assert (lo, hi) == (4, 994)
    out = P.to_uint8(v)
    assert out.dtype == np.uint8 and out.shape == v.shape
    assert out[4] == 0 and out[994] == 255 and out[0] == 0 and out[-1] == 255
    # y = floor((v - lo) * 255 / (hi - lo) + 0.5)
    assert out[500] == int(np.floor((500 - 4) * 255 / 990 + 0.5))
    assert P.to_uint8(np.full((4, 4), 7)).max() == 0  # flat image -> zeros
    # 2-D 12-bit image keeps its shape
    img = np.random.default_rng(0).integers(0, 4096, (16, 20))
    assert P.to_uint8(img).shape == (16, 20)


def test_margin_rule_examples():
    assert [P.margin_pixels(e) for e in (1, 9, 10, 29, 30, 31, 50, 100)] == [0, 0, 1, 1, 2, 2, 3, 5]
    # w = 30 -> 2 px each side; h = 10 -> 1 px each side
    assert P.bbox_with_margin(10, 20, 39, 29, 100, 100) == (8, 19, 41, 30)
    # clamped at the borders, not shifted
    assert P.bbox_with_margin(0, 0, 39, 9, 40, 100) == (0, 0, 41, 10)
    assert P.bbox_with_margin(70, 35, 99, 39, 40, 100) == (68, 35, 99, 39)


def test_disc_bbox_axial_largest_and_sagittal_two_lowest():
    m = np.zeros((100, 100), np.uint8)
    m[10:20, 10:50] = 1  # top, 400 px
    m[40:48, 10:50] = 1  # middle, 320 px
    m[70:80, 20:60] = 1  # bottom, 400 px
    m[95, 95] = 1  # speck, filtered (area*10 < 400)
    # axial: largest (tie between top and bottom -> first in raster order = top)
    assert P.disc_bbox(m, "axial") == P.bbox_with_margin(10, 10, 49, 19, 100, 100)
    # sagittal: two lowest = middle + bottom
    assert P.disc_bbox(m, "sagittal") == P.bbox_with_margin(10, 40, 59, 79, 100, 100)
    assert P.disc_bbox(np.zeros((5, 5), np.uint8), "axial") is None


def test_levels_from_bottom():
    m = np.zeros((50, 20), np.uint8)
    m[5:8, 2:10] = 1
    m[20:23, 2:10] = 1
    m[40:43, 2:10] = 1
    lv = P.levels_from_bottom(m)
    assert lv[41, 5] == 1 and lv[21, 5] == 2 and lv[6, 5] == 3 and lv[0, 0] == 0


@pytest.mark.parametrize("seed", range(6))
def test_clahe_reference_equals_opencv(seed):
    rng = np.random.default_rng(seed)
    kinds = [
        rng.integers(0, 256, (64, 64)),
        rng.integers(100, 130, (64, 64)),
        cv2.GaussianBlur(rng.integers(0, 256, (64, 64)).astype(np.uint8), (9, 9), 3),
    ]
    for img in kinds:
        img = img.astype(np.uint8)
        assert np.array_equal(P.clahe(img), P.clahe_reference(img))


def test_resize_integer_rule_close_to_cv2_and_exact_cases():
    rng = np.random.default_rng(3)
    for h, w in [(20, 30), (64, 64), (130, 97), (7, 200)]:
        img = rng.integers(0, 256, (h, w)).astype(np.uint8)
        ours = P.resize_bilinear_u8(img, 64, 64)
        ref = cv2.resize(img, (64, 64), interpolation=cv2.INTER_LINEAR)
        assert np.abs(ours.astype(int) - ref).max() <= 1
    # identity and exact 2x downscale (average of 2x2 blocks, half up)
    img = rng.integers(0, 256, (8, 8)).astype(np.uint8)
    assert np.array_equal(P.resize_bilinear_u8(img, 8, 8), img)
    down = P.resize_bilinear_u8(img, 4, 4)
    blocks = img.reshape(4, 2, 4, 2).astype(int).sum(axis=(1, 3))
    assert np.array_equal(down, (blocks * 4 + 8) // 16)


def test_letterbox_roundtrip_and_geometry():
    g = P.letterbox_geometry(320, 256, 256)
    assert (g.new_rows, g.new_cols, g.top, g.left) == (256, 205, 0, 25)
    mask = np.zeros((320, 256), np.uint8)
    mask[100:140, 60:200] = 1
    lb, g = P.letterbox(mask, 256, nearest=True)
    assert lb.shape == (256, 256) and lb[:, :25].max() == 0
    back = P.unletterbox_mask(lb, g)
    assert back.shape == mask.shape
    assert (back != mask).mean() < 0.01


def test_crop_pipeline_shape_dtype_channels():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (120, 90)).astype(np.uint8)
    mask = np.zeros_like(img)
    mask[50:70, 20:60] = 1
    crop = P.crop_disc(img, mask, "axial")
    assert crop.shape == (64, 64) and crop.dtype == np.uint8
    x0, y0, x1, y1 = P.disc_bbox(mask, "axial")
    expected = P.clahe_reference(P.resize_bilinear_u8(img[y0 : y1 + 1, x0 : x1 + 1], 64, 64))
    assert np.array_equal(crop, expected)
    x = P.crop_to_input(crop)
    assert x.shape == (3, 64, 64) and x.dtype == np.float32
    assert np.array_equal(x[0], x[1]) and np.array_equal(x[1], x[2])
    assert np.isclose(x.max(), crop.max() / 255.0)
    assert P.crop_disc(img, np.zeros_like(mask), "axial") is None


def test_flip_swaps_left_right_only_on_axial():
    left, right = AXIAL_CLASSES.index("left"), AXIAL_CLASSES.index("right")
    assert P.flip_label(left, AXIAL_CLASSES, "axial") == right
    assert P.flip_label(right, AXIAL_CLASSES, "axial") == left
    for name in ("healthy", "bulge", "central"):
        assert P.flip_label(AXIAL_CLASSES.index(name), AXIAL_CLASSES, "axial") == AXIAL_CLASSES.index(name)
    for i in range(len(SAGITTAL_CLASSES)):
        assert P.flip_label(i, SAGITTAL_CLASSES, "sagittal") == i


def test_augment_flip_and_brightness():
    crop = np.tile(np.arange(64, dtype=np.uint8), (64, 1))
    aug = P.Augment(flip_p=1.0, brightness=(1.0, 1.0))
    out, lab = aug.classification(crop, AXIAL_CLASSES.index("left"), AXIAL_CLASSES, "axial", np.random.default_rng(0))
    assert np.array_equal(out, crop[:, ::-1]) and lab == AXIAL_CLASSES.index("right")
    out, lab = aug.classification(crop, 1, SAGITTAL_CLASSES, "sagittal", np.random.default_rng(0))
    assert lab == 1
    assert np.array_equal(P.adjust_brightness(np.array([[100, 200]], np.uint8), 1.5), [[150, 255]])
    assert np.array_equal(P.adjust_brightness(np.array([[100, 201]], np.uint8), 0.5), [[50, 101]])
    img, mask = np.arange(12, dtype=np.uint8).reshape(3, 4), np.eye(3, 4, dtype=np.uint8)
    i2, m2 = aug.segmentation(img, mask, np.random.default_rng(0))
    assert np.array_equal(i2, img[:, ::-1]) and np.array_equal(m2, mask[:, ::-1])


def test_augment_extra_moves_image_and_mask_together():
    # a bright square whose mask is the same square: after any similarity transform the warped mask still
    # marks the bright pixels (nearest for the mask keeps 0/1; bilinear blurs only the image's border)
    img = np.zeros((64, 64), np.uint8)
    img[20:40, 24:44] = 200
    mask = (img > 0).astype(np.uint8)
    aug = P.Augment(flip_p=0.0, brightness=(1.0, 1.0), extra=True, extra_p=1.0, gamma=(1.0, 1.0))
    moved = 0
    for seed in range(20):
        i2, m2 = aug.segmentation(img, mask, np.random.default_rng(seed))
        assert i2.shape == img.shape and m2.shape == mask.shape and set(np.unique(m2)) <= {0, 1}
        assert m2.sum() > 0.6 * mask.sum()
        inside = i2[m2 == 1].astype(float)
        assert np.median(inside) >= 150  # the mask still covers the square
        assert np.median(i2[m2 == 0]) == 0
        moved += not np.array_equal(m2, mask)
    assert moved >= 18  # it does transform
    # multi-channel targets (per-level masks) move like the single one
    i3, m3 = aug.segmentation(img, np.stack([mask, mask]), np.random.default_rng(3))
    assert m3.shape == (2, 64, 64) and np.array_equal(m3[0], m3[1])
    # gamma only: geometry unchanged, mid-grey moves
    g = P.Augment(
        flip_p=0.0,
        brightness=(1.0, 1.0),
        extra=True,
        extra_p=1.0,
        scale=(1.0, 1.0),
        rotation_deg=0.0,
        shift=0.0,
        gamma=(0.5, 0.5),
    )
    i4, m4 = g.segmentation(np.full((8, 8), 64, np.uint8), np.ones((8, 8), np.uint8), np.random.default_rng(0))
    assert np.array_equal(m4, np.ones((8, 8))) and int(i4[0, 0]) == 128  # 255 * (64/255) ** 0.5 = 127.7
    # off by default: the paper's augmentation only
    assert P.Augment().extra is False
