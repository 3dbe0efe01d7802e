"""sag-grading (issue 13): the disc finder, the crop, the ordinal head, the metrics, cross-validation and the
``evaluate`` command on real SPIDER slices with the shipped models."""

import csv
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from training import grading as G
from training.grading_discs import spine_discs, tilt_says_upside_down
from training.tests import fakedata
from training.tests.conftest import ROOT, SPIDER_REAL

MODEL = os.path.join(ROOT, "models", "sag-grading")


def ellipse(mask, cx, cy, ax, ay, angle=0.0):
    cv2.ellipse(mask, (cx, cy), (ax, ay), angle, 0, 360, 1, -1)


def spine_mask():
    """Six flat discs on a slightly slanted column (bottom at y = 330), plus decoys."""
    m = np.zeros((400, 300), np.uint8)
    for k in range(6):
        ellipse(m, 150 + 4 * k, 330 - 55 * k, 24, 6)
    return m


def test_spine_discs_keeps_the_chain_from_the_bottom():
    _, discs, rejected, places = spine_discs(spine_mask())
    assert len(discs) == 6 and not rejected and places == [1, 2, 3, 4, 5, 6]
    assert [round(d.cy) for d in discs] == [330, 275, 220, 165, 110, 55]
    assert all(d.major > 3 * d.minor and abs(d.tilt) < 1 for d in discs)


@pytest.mark.parametrize(
    "decoy, reason",
    [
        (lambda m: ellipse(m, 60, 370, 14, 14), "round"),  # a bowel loop below and in front
        (lambda m: ellipse(m, 165, 385, 5, 22), "steep"),  # a steep sacral remnant below L5-S1
        (lambda m: ellipse(m, 40, 300, 20, 6), "off the spine"),  # flat, but far in front of the column
        (lambda m: ellipse(m, 200, 330, 8, 4), "beside a larger disc"),  # a fragment at L5-S1's height
        (lambda m: ellipse(m, 150, 385, 3, 1), "small"),  # under a tenth of the largest
    ],
)
def test_spine_discs_rejects_decoys_below_the_spine(decoy, reason):
    m = spine_mask()
    decoy(m)
    _, discs, rejected, _ = spine_discs(m)
    assert [round(d.cy) for d in discs] == [330, 275, 220, 165, 110, 55], "disc 1 must stay the lowest real disc"
    assert [r for _, r in rejected] == [reason]


def test_all_components_would_shift_the_levels():
    """What went wrong before: numbering every component from the bottom makes the decoy disc 1."""
    from training import preprocess as P

    m = spine_mask()
    ellipse(m, 60, 370, 14, 14)
    old = sorted(P.disc_components(m), key=lambda c: -c.cy)
    assert round(old[0].cy) == 370
    _, discs, _, _ = spine_discs(m)
    assert round(discs[0].cy) == 330


def test_spine_discs_empty_and_single():
    _, discs, rejected, places = spine_discs(np.zeros((50, 50), np.uint8))
    assert discs == [] and rejected == [] and places == []
    m = np.zeros((100, 100), np.uint8)
    ellipse(m, 50, 50, 20, 5)
    _, discs, _, places = spine_discs(m)
    assert len(discs) == 1 and places == [1]


def test_a_missed_disc_keeps_the_levels_above_it():
    m = np.zeros((400, 300), np.uint8)
    for k in (0, 1, 3, 4, 5):  # the third disc from the bottom is missing
        ellipse(m, 150 + 4 * k, 330 - 55 * k, 24, 6)
    _, discs, _, places = spine_discs(m)
    assert len(discs) == 5 and places == [1, 2, 4, 5, 6]


def test_tilt_tells_a_mirrored_spine():
    m = np.zeros((400, 300), np.uint8)
    for k, angle in enumerate((-40, -15, 0, 10, 12, 12)):  # lordosis: L5-S1 tilted front-end down, head up
        ellipse(m, 150 + 4 * k, 330 - 55 * k, 24, 6, angle)
    _, discs, _, _ = spine_discs(m)
    assert not tilt_says_upside_down(discs)
    _, flipped, _, _ = spine_discs(np.ascontiguousarray(m[::-1]))
    assert tilt_says_upside_down(flipped)


def test_crop_box_and_padding():
    m = np.zeros((100, 120), np.uint8)
    m[40:50, 0:40] = 1  # w = 40: half = (320 + 5) // 10 = 32, shift (40 + 5) // 10 = 4
    labels, discs, _, _ = spine_discs(m)
    d = discs[0]
    assert (d.cx, d.cy) == (19.5, 44.5)
    assert G.crop_box(d) == (20 + 4 - 32, 45 - 32, 20 + 4 + 32, 45 + 32)
    img = np.full((100, 120), 200, np.uint8)
    crop = G.crop_padded(img, G.crop_box(d))
    assert crop.shape == (65, 65)
    assert (crop[:, :8] == 0).all() and (crop[:, 8:] == 200).all()  # the 8 columns left of x = 0 are zero-padded
    x = G.grading_input(img, labels, d)
    assert x.shape == (G.CHANNELS, G.CROP, G.CROP) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    own = x[2]
    assert own.max() == 1.0 and own[:, : 64 * 8 // 65].max() == 0  # the disc's own mask; nothing in the padding


def test_ordinal_head_gives_a_distribution():
    net = G.GradingNet(width=4).eval()
    with torch.no_grad():
        logits = net(torch.rand(5, G.CHANNELS, G.CROP, G.CROP))
        p = G.GradingNet.to_probabilities(logits).numpy()
    assert p.shape == (5, len(G.OUTPUTS))
    dist = p[:, len(G.BINARY) :]
    assert np.allclose(dist.sum(1), 1, atol=1e-6) and (dist >= 0).all()
    t = net.thresholds().detach().numpy()
    assert (np.diff(t) > 0).all(), "thresholds are ordered, so P(grade > k) falls with k"


def test_metrics_on_known_predictions():
    y = np.zeros((8, len(G.BINARY) + 1), np.float32)
    y[:4, :] = 1
    y[:, -1] = [5, 4, 4, 5, 1, 2, 3, 2]
    prob = np.zeros((8, len(G.OUTPUTS)), np.float32)
    prob[:, : len(G.BINARY)] = np.array([0.9, 0.8, 0.7, 0.95, 0.1, 0.2, 0.3, 0.05])[:, None]
    for i, g in enumerate([5, 4, 3, 5, 1, 2, 3, 2]):  # one Pfirrmann miss by one (4 -> 3)
        prob[i, len(G.BINARY) + g - 1] = 1
    groups = np.array(["a", "a", "b", "b", "c", "c", "d", "d"])
    m = G.task_metrics(y, prob, groups, {"herniation": 0.5}, n_boot=50)
    assert m["herniation"]["roc_auc"] == 1.0 and m["herniation"]["roc_auc_ci95"] == [1.0, 1.0]
    assert m["herniation"]["balanced_accuracy"] == 1.0
    assert m["pfirrmann"]["exact"] == 7 / 8 and m["pfirrmann"]["within_one"] == 1.0
    assert m["pfirrmann"]["confusion"][3][2] == 1
    assert G.youden_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.3, 0.6, 0.8])) == pytest.approx(0.6)


def test_crossval_pools_every_patient_once():
    rng = np.random.default_rng(0)
    n = 60
    x = rng.random((n, G.CHANNELS, G.CROP, G.CROP)).astype(np.float32)
    y = np.zeros((n, len(G.BINARY) + 1), np.float32)
    y[:, :3] = rng.integers(0, 2, (n, 3))
    y[:, -1] = rng.integers(1, 6, n)
    groups = np.array([f"p{i // 4}" for i in range(n)])
    levels = np.array([1 + i % 4 for i in range(n)])
    res = G.crossval(x, y, groups, levels, G.Recipe(epochs=1, width=4, batch_size=16), folds=3)
    assert (res["fold"] >= 0).all() and not np.isnan(res["prob"]).any()
    for p in np.unique(groups):
        assert len(set(res["fold"][groups == p])) == 1, "a patient's discs stay in one fold"
    assert len(res["per_fold"]) == 3


def real_subset(tmp_path, patients, with_space=False):
    """A SPIDER-layout folder with a few real patients (mid-sagittal slices, gradings, overview)."""
    root = tmp_path / "spider"
    (root / "sagittal_t2").mkdir(parents=True)
    for name in os.listdir(os.path.join(SPIDER_REAL, "sagittal_t2")):
        if name.split("_")[0] in patients:
            shutil.copy(os.path.join(SPIDER_REAL, "sagittal_t2", name), root / "sagittal_t2" / name)
    for csv_name, key in (("radiological_gradings.csv", "Patient"), ("overview.csv", "new_file_name")):
        with open(os.path.join(SPIDER_REAL, csv_name), newline="") as f:
            rows = list(csv.DictReader(f))
        with open(root / csv_name, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(r for r in rows if r[key].split("_")[0] in patients)
    if with_space:
        (root / "t2_space" / "images").mkdir(parents=True)
    return str(root)


needs_real = pytest.mark.skipif(
    not os.path.isdir(os.path.join(SPIDER_REAL, "sagittal_t2")), reason="../shared/data/spider is not here"
)


@needs_real
def test_real_discs_carry_their_own_grades(tmp_path):
    """Alignment on real slices: the discs found on 101_t2 (6 discs, SPIDER num_discs 6) get IVD labels 1..6."""
    from training.inference import Runner

    root = real_subset(tmp_path, {"101"})
    samples, images = G.spider_samples(root, Runner(os.path.join(ROOT, "models", "sag-seg-unet"), "cpu"))
    assert [(i.stem, i.found, i.expected, i.mirrored) for i in images] == [("101_t2", 6, 6, False)]
    assert [s.level for s in samples] == [1, 2, 3, 4, 5, 6]
    grades = G.read_gradings(root)["101"]
    assert [int(s.y[-1]) for s in samples] == [grades[k]["pfirrmann"] for k in range(1, 7)]


@needs_real
@pytest.mark.parametrize("with_space", [False, True])
def test_evaluate_command_prints_the_keys(tmp_path, with_space):
    root = real_subset(tmp_path, {"101", "104", "105", "106", "107", "108"}, with_space)
    res = fakedata.run_json("evaluate", "--model", MODEL, "--data", root, "--quiet")
    for key in (
        "n_patients",
        "n_discs",
        "herniation_auc_l4_s1",
        "herniation_auc",
        "bulging_auc",
        "narrowing_auc",
        "pfirrmann_accuracy",
        "pfirrmann_within_one",
    ):
        assert key in res
    assert res["n_patients"] == 6 and res["n_discs"] >= 30
    assert 0 <= res["pfirrmann_accuracy"] <= res["pfirrmann_within_one"] <= 1
    assert res["task"] == "grading"


def test_evaluate_refuses_a_folder_without_sagittal_slices(tmp_path):
    (tmp_path / "radiological_gradings.csv").write_text("Patient,IVD label\n")
    r = subprocess.run(
        [sys.executable, "-m", "training", "evaluate", "--model", MODEL, "--data", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=ROOT),
    )
    assert r.returncode != 0 and "sagittal_t2" in r.stderr


def test_shipped_card_names_outputs_and_data():
    with open(os.path.join(MODEL, "model.json")) as f:
        card = json.load(f)
    assert card["task"] == "grading" and card["view"] == "sagittal"
    assert card["output"]["classes"] == list(G.OUTPUTS)
    assert set(card["output"]["thresholds"]) == set(G.BINARY)
    assert card["training_data"][0]["name"] == "SPIDER" and "CC BY 4.0" in card["training_data"][0]["licence"]
    assert "not for primary diagnosis" in card["intended_use"]
    assert card["export_check"]["max_abs_diff"] < 1e-4


@needs_real
def test_an_upside_down_slice_is_mirrored_only_when_the_tilt_agrees(tmp_path):
    """57_t2 is stored upside down (docs/SAGITTAL-ALIGNMENT.md), 101_t2 head up: an orientation check that says
    "upside down" for both mirrors only 57_t2, whose discs the tilt rule also reads as mirrored."""
    from training.inference import Runner

    root = real_subset(tmp_path, {"57", "101"})
    seg = Runner(os.path.join(ROOT, "models", "sag-seg-unet"), "cpu")
    _, images = G.spider_samples(root, seg, orientation={"57_t2": 0.9, "57_t2_SPACE": 0.9, "101_t2": 0.9})
    mirrored = {i.stem: i.mirrored for i in images}
    assert mirrored == {"57_t2": True, "57_t2_SPACE": True, "101_t2": False}
    _, images = G.spider_samples(root, seg, orientation={"57_t2": 0.1, "57_t2_SPACE": 0.1, "101_t2": 0.1})
    assert not any(i.mirrored for i in images)
