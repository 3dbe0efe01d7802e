"""training/tools/make_semisynthetic_axial.py (issue 14, part 3): real axial slices with inserted pathology,
written in the phantom training layout that training.datasets reads; the annotation's test slices only ever in the
test part."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter

import pytest

from training import splits as S
from training.datasets import AXIAL_CLASSES, load_records
from training.tools import make_semisynthetic_axial

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMG_DIR = os.path.join(ROOT, "..", "shared", "data", "mendeley-axial-unlabelled")
TRAIN_FILE = "train__with_pain__spine_0001.png"
TEST_FILE = "validation__without_pain__spine_0021.png"

pytestmark = pytest.mark.skipif(
    not all(os.path.isfile(os.path.join(IMG_DIR, f)) for f in (TRAIN_FILE, TEST_FILE)),
    reason="../shared/data/mendeley-axial-unlabelled is absent",
)


def _script():
    return make_semisynthetic_axial


def test_generator_writes_phantom_layout(tmp_path):
    out = str(tmp_path / "semi")
    assert (
        _script().main(
            [out, "--files", f"{TRAIN_FILE},{TEST_FILE}", "--variants", "2", "--seed", "3", "--val-slices", "0"]
        )
        == 0
    )
    for name in ("dataset.json", "truth.json", "samples.csv", "labels.csv", "split.json"):
        assert os.path.isfile(os.path.join(out, name)), name
    info = json.load(open(os.path.join(out, "dataset.json")))
    assert info["kind"] == "semi-synthetic" and "10.17632/k57fr854j2.2" in info["images"]

    recs = load_records(out, "classification", "axial")
    assert len(recs) == 2 * (1 + 4 * 2)
    counts = Counter(AXIAL_CLASSES[r.label] for r in recs)
    assert counts == {"healthy": 2, "bulge": 4, "central": 4, "left": 4, "right": 4}
    # each real slice and its variants is one patient; originals are healthy
    assert {r.patient_id for r in recs} == {
        f"phantom:mendeley:{os.path.splitext(f)[0]}" for f in (TRAIN_FILE, TEST_FILE)
    }
    for r in recs:
        if r.sample_id.endswith("_ax_orig"):
            assert AXIAL_CLASSES[r.label] == "healthy"
        m = r.disc_mask()
        assert m is not None and m.any()
    with open(os.path.join(out, "samples.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["level"] for r in rows} == {"L4-L5"}

    split = S.read_split(os.path.join(out, "split.json"))
    S.check_disjoint(split)
    test_pid = f"phantom:mendeley:{os.path.splitext(TEST_FILE)[0]}"
    assert split["test"] == [test_pid]
    assert test_pid not in split["train"] and test_pid not in split["val"]
    assert split["train"] == [f"phantom:mendeley:{os.path.splitext(TRAIN_FILE)[0]}"]
    assert all(r.patient_id != test_pid for r in S.select(recs, split["train"] + split["val"]))
