"""The project's axial disc masks (annotations/mendeley-axial): reproducible from spec.json, complete and sane.

The masks are project annotations made with training/tools/axial_annotate.py on the 64 real Mendeley axial slices in
../shared/data/mendeley-axial-unlabelled; rebuilding needs those images, the label checks do not.
"""

import csv
import os

import cv2
import numpy as np
import pytest

from training.tests.conftest import ROOT
from training.tools import axial_annotate

ANN = os.path.join(ROOT, "annotations", "mendeley-axial")
MENDELEY_AXIAL = os.environ.get(
    "MENDELEY_AXIAL_DIR", os.path.join(ROOT, "..", "shared", "data", "mendeley-axial-unlabelled")
)
needs_images = pytest.mark.skipif(
    not os.path.isdir(MENDELEY_AXIAL), reason="../shared/data/mendeley-axial-unlabelled is not here"
)

N_SLICES, N_TEST = 64, 18
# a lumbar disc on these 320x320 slices (about 0.7 mm pixels) covers a few thousand pixels
DISC_AREA = (1500, 8000)


def _tool():
    return axial_annotate


def _labels():
    with open(os.path.join(ANN, "labels.csv"), newline="") as f:
        return list(csv.DictReader(f))


def _mask(name):
    m = cv2.imread(os.path.join(ANN, "masks", name), cv2.IMREAD_UNCHANGED)
    assert m is not None, name
    return m


@needs_images
def test_masks_rebuild_from_spec_byte_for_byte():
    tool = _tool()
    spec = tool.load_spec(os.path.join(ANN, "spec.json"))
    assert sorted(spec["slices"]) == sorted(n for n in os.listdir(MENDELEY_AXIAL) if n.endswith(".png"))
    rebuilt = tool.make_masks(spec, MENDELEY_AXIAL)
    committed = sorted(n for n in os.listdir(os.path.join(ANN, "masks")) if n.endswith(".png"))
    assert committed == sorted(rebuilt)
    for name, m in rebuilt.items():
        c = _mask(name)
        assert c.dtype == np.uint8 and c.shape == m.shape == cv2.imread(os.path.join(MENDELEY_AXIAL, name), 0).shape
        assert c.tobytes() == m.tobytes(), f"{name}: the committed mask differs from the one spec.json gives"
    rows = {r["file"]: r for r in _labels()}
    for name, m in rebuilt.items():
        assert int(rows[name]["disc_area_px"]) == int((m == 1).sum())
        assert int(rows[name]["sac_area_px"]) == int((m == 2).sum())


def test_labels_cover_all_slices_with_valid_values():
    rows = _labels()
    names = [r["file"] for r in rows]
    assert len(rows) == N_SLICES and len(set(names)) == N_SLICES
    for r in rows:
        assert r["cut"] in ("disc", "endplate", "body", "none"), r
        assert r["contrast"] in ("T1", "T2"), r
        assert r["split"] == ("test" if r["file"].startswith("validation__") else "train"), r
        assert r["uncertain"] in ("0", "1"), r
    test = [r["file"] for r in rows if r["split"] == "test"]
    assert len(test) == N_TEST and all(n.startswith("validation__") for n in test)
    assert all(n.startswith("train__") for n in names if n not in test)
    if os.path.isdir(MENDELEY_AXIAL):
        assert sorted(names) == sorted(n for n in os.listdir(MENDELEY_AXIAL) if n.endswith(".png"))


def test_disc_masks_are_one_plausible_piece_and_only_where_a_disc_is():
    rows = _labels()
    assert sum(r["cut"] == "disc" for r in rows) >= 30
    for r in rows:
        m = _mask(r["file"])
        assert m.ndim == 2 and set(np.unique(m)) <= {0, 1, 2}, r["file"]
        disc = (m == 1).astype(np.uint8)
        area = int(disc.sum())
        if r["cut"] == "disc":
            n, _ = cv2.connectedComponents(disc, connectivity=8)
            assert n == 2, f"{r['file']}: the disc mask has {n - 1} pieces"
            assert DISC_AREA[0] <= area <= DISC_AREA[1], (r["file"], area)
            ys, xs = np.nonzero(disc)
            # anterior to the canal, near the middle of the image, wider than deep
            assert 100 <= xs.mean() <= 220 and 110 <= ys.mean() <= 200, r["file"]
            assert xs.max() - xs.min() > ys.max() - ys.min(), r["file"]
        elif r["cut"] in ("none", "body"):
            assert area == 0, f"{r['file']}: a {r['cut']} slice has a disc mask"
