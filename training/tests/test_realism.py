"""training/realism.py: the phantom-vs-real classifier separates what differs and not what does not."""

import csv
import json
import os

import cv2
import numpy as np
import pytest

from training import realism as R


def _blobs(rng, n, bright):
    """n 96x96 images: noise plus (if bright) a bright disc in the middle and a dark top third."""
    out = []
    yy, xx = np.mgrid[:96, :96]
    for _ in range(n):
        im = rng.normal(0.3, 0.08, (96, 96))
        if bright:
            cy, cx = rng.integers(40, 56, size=2)
            im[(yy - cy) ** 2 + (xx - cx) ** 2 < 15**2] += 0.5
            im[:32] *= 0.2
        out.append(np.clip(im, 0, 1).astype(np.float32))
    return np.stack(out)


def _groups(prefix, n, per):
    return [f"{prefix}{i // per}" for i in range(n)]


def test_separates_obviously_different_sets():
    rng = np.random.default_rng(1)
    x = np.concatenate([_blobs(rng, 40, False), _blobs(rng, 40, True)])
    y = np.array([0] * 40 + [1] * 40)
    res = R.cross_validate(x, y, _groups("r", 40, 1) + _groups("p", 40, 2), classifiers=("features",), seed=0)
    assert res["features"]["auc"] > 0.95
    lo, hi = res["features"]["ci95"]
    assert lo <= res["features"]["auc"] <= hi
    lo, hi = res["features"]["foldMeanCi95"]
    assert res["features"]["foldMeanAuc"] > 0.95 and lo <= res["features"]["foldMeanAuc"] <= hi
    assert set(res["diagnostics"]) == set(R.FEATURE_GROUPS)


def test_cnn_separates_obviously_different_sets(monkeypatch):
    monkeypatch.setattr(R, "CNN_STEPS", 40)
    rng = np.random.default_rng(2)
    x = np.concatenate([_blobs(rng, 24, False), _blobs(rng, 24, True)])
    y = np.array([0] * 24 + [1] * 24)
    res = R.cross_validate(x, y, _groups("r", 24, 1) + _groups("p", 24, 3), classifiers=("cnn",), seed=0, folds=3)
    assert res["cnn"]["foldMeanAuc"] > 0.9


def test_about_one_half_on_identical_sets():
    rng = np.random.default_rng(3)
    x = _blobs(rng, 160, True)
    y = np.array([0, 1] * 80)
    res = R.cross_validate(x, y, [f"g{i}" for i in range(160)], classifiers=("features",), seed=0)
    assert 0.3 < res["features"]["auc"] < 0.7
    lo, hi = res["features"]["ci95"]
    assert lo < 0.5 < hi
    assert 0.3 < res["features"]["foldMeanAuc"] < 0.7
    lo, hi = res["features"]["foldMeanCi95"]
    assert lo < 0.5 < hi


def test_prepare_same_size_window_and_crop():
    rng = np.random.default_rng(4)
    tall = rng.integers(0, 4000, (300, 200)).astype(np.uint16)
    a = R.prepare(tall)
    assert a.shape == (R.SIZE, R.SIZE) and a.dtype == np.float32
    assert 0.0 <= a.min() and a.max() <= 1.0
    # 16-bit and the same image already windowed to 8 bits give nearly the same input
    b = R.prepare(R.P.to_uint8(tall))
    assert np.abs(a - b).mean() < 0.01


def _layout(root, studies=3):
    """A tiny `phantom --dataset` layout: 2 axial slices per level and 3 sagittal slices per study."""
    os.makedirs(os.path.join(root, "images"))
    rows, truth = [], []
    for s in range(studies):
        pid, uid = f"PH-{s}", f"2.25.{s}"
        for view, level, idx in [("axial", lv, i) for lv in ("L3-L4", "L4-L5", "L5-S1") for i in range(2)] + [
            ("sagittal", "", i) for i in (4, 5, 6)
        ]:
            name = f"{pid}_{view}_{level}_{idx}"
            cv2.imwrite(os.path.join(root, "images", name + ".png"), np.full((64, 64), 10 * idx, np.uint8))
            rows.append(
                {
                    "sample": name,
                    "patient_id": pid,
                    "study_uid": uid,
                    "view": view,
                    "series": "",
                    "slice_index": str(idx + (10 if level == "L4-L5" else 0)),
                    "image": f"images/{name}.png",
                    "mask": "",
                    "rows": "64",
                    "cols": "64",
                    "pixel_spacing_mm": "1",
                    "level": level,
                }
            )
        truth.append({"studyInstanceUid": uid, "series": [{"kind": "t2_sag", "instances": 11}]})
    with open(os.path.join(root, "samples.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(root, "truth.json"), "w") as f:
        json.dump({"studies": truth}, f)


def test_phantom_slices_one_per_level_and_the_mid_sagittal(tmp_path):
    _layout(str(tmp_path))
    ax = R.phantom_slices(tmp_path, "axial")
    assert len(ax) == 9 and len({g for _, g in ax}) == 3
    sag = R.phantom_slices(tmp_path, "sagittal")
    assert len(sag) == 3
    # 11 slices: the middle one is index 5
    assert all(p.endswith("_5.png") for p, _ in sag)


def test_no_view_in_layout_is_an_error(tmp_path):
    _layout(str(tmp_path))
    with pytest.raises(SystemExit):
        R.phantom_slices(tmp_path, "coronal")
