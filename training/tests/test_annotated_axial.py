"""Project-annotated axial slices (annotations/mendeley-axial, issue 14): the loader and its fixed split, the MRI
augmentation (--augment-mri), --oversample, and training/experiments/axial_seg_real.py on a tiny run."""

import csv
import json
import os

import cv2
import numpy as np
import pytest

from training import splits as S
from training.cli import main
from training.datasets import annotated, credits_for, detect_layout, load_records
from training.engine import MRIAugment, TrainConfig, make_split, oversample_weights
from training.tests import fakedata
from training.tests.conftest import ROOT
from training.tests.fakedata import flags

REAL_ANN = os.path.join(ROOT, "annotations", "mendeley-axial")
# (name stem, cut, contrast, split): 9 train (6 disc), 4 test (3 disc)
SLICES = [
    *[(f"train__a_{i:02d}", "disc", "T1" if i % 2 else "T2", "train") for i in range(6)],
    ("train__a_06", "body", "T1", "train"),
    ("train__a_07", "endplate", "T2", "train"),
    ("train__a_08", "body", "T2", "train"),
    *[(f"validation__b_{i:02d}", "disc", "T1" if i % 2 else "T2", "test") for i in range(3)],
    ("validation__b_03", "body", "T1", "test"),
]


def make_annotated(root: str, size: int = 64, images_inside: bool = False) -> tuple[str, str]:
    """(annotation folder, image folder) in the annotations/mendeley-axial layout; disc = bright ellipse, value 1;
    a thecal-sac blob (value 2) on every disc slice, which is not disc."""
    rng = np.random.default_rng(3)
    ann = os.path.join(root, "ann")
    img_dir = os.path.join(ann, "images") if images_inside else os.path.join(root, "imgs")
    os.makedirs(os.path.join(ann, "masks"), exist_ok=True)
    os.makedirs(img_dir, exist_ok=True)
    rows = []
    for stem, cut, contrast, split in SLICES:
        img = np.clip(rng.normal(50, 12, (size, size)), 0, 255)
        mask = np.zeros((size, size), np.uint8)
        if cut == "disc":
            cv2.ellipse(mask, (size // 2, size // 3), (size // 5, size // 8), 0, 0, 360, 1, -1)
            cv2.circle(mask, (size // 2, size // 2 + 6), 4, 2, -1)
            img[mask == 1] = 170
        else:
            img[size // 4 : size // 2, size // 3 : 2 * size // 3] = 120  # a "vertebral body"
        cv2.imwrite(os.path.join(img_dir, stem + ".png"), img.astype(np.uint8))
        cv2.imwrite(os.path.join(ann, "masks", stem + ".png"), mask)
        rows.append([stem + ".png", cut, contrast, split, int((mask == 1).sum()), 0, 0])
    with open(os.path.join(ann, "labels.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "cut", "contrast", "split", "disc_area_px", "sac_area_px", "uncertain"])
        w.writerows(rows)
    return ann, img_dir


@pytest.fixture(scope="module")
def ann(tmp_path_factory):
    return make_annotated(str(tmp_path_factory.mktemp("annotated")))


@pytest.fixture
def ann_env(ann, monkeypatch):
    monkeypatch.setenv("LUMBAR_MENDELEY_AXIAL_DIR", ann[1])
    return ann[0]


def test_loader_records(ann_env, tmp_path):
    assert detect_layout(ann_env) == "annotated"
    recs = load_records(ann_env, "segmentation", "axial")
    assert len(recs) == len(SLICES)
    assert (
        load_records(ann_env, "classification", "axial") == []
        and load_records(ann_env, "segmentation", "sagittal") == []
    )
    by = {r.sample_id: r for r in recs}
    disc = by["mendeley-axial:train__a_00"]
    assert disc.patient_id == disc.sample_id and disc.source == annotated.SOURCE
    assert disc.meta == {"cut": "disc", "contrast": "T2", "split": "train", "disc": True, "uncertain": False}
    m = disc.disc_mask()
    assert m.shape == disc.image().shape == (64, 64) and set(np.unique(m)) == {0, 1}
    raw = cv2.imread(disc.mask_path, cv2.IMREAD_UNCHANGED)
    assert m.sum() == (raw == 1).sum() < (raw > 0).sum()  # the thecal sac (2) is not disc
    neg = by["mendeley-axial:train__a_06"]
    assert neg.meta["disc"] is False and neg.disc_mask().sum() == 0  # negatives: all-zero masks
    c = credits_for(ann_env)
    assert (
        c["kind"] == "real" and "10.17632/k57fr854j2.2" in c["citation"] and "project annotations" in c["annotations"]
    )
    # images: an images/ folder inside the annotations when no variable names one; a missing image is an error
    ann2, _ = make_annotated(str(tmp_path), images_inside=True)
    os.environ.pop("LUMBAR_MENDELEY_AXIAL_DIR")
    assert annotated.image_dir(ann2) == os.path.join(ann2, "images") and len(
        load_records(ann2, "segmentation", "axial")
    ) == len(SLICES)
    os.environ["LUMBAR_MENDELEY_AXIAL_DIR"] = str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="LUMBAR_MENDELEY_AXIAL_DIR"):
        load_records(ann2, "segmentation", "axial")


def test_fixed_split_keeps_test_slices_out(ann_env, phantom_dir):
    recs = load_records(ann_env, "segmentation", "axial")
    test_ids = {r.patient_id for r in recs if r.meta["split"] == "test"}
    parts = annotated.assign_parts(recs, seed=0, n_val=2)
    assert {p for p, v in parts.items() if v == "test"} == test_ids
    assert sum(v == "val" for v in parts.values()) == 2 and annotated.assign_parts(recs, seed=0, n_val=2) == parts
    # with phantom records beside them, through training.prepare.make_split (what train and pack use)
    both = recs + load_records(phantom_dir, "segmentation", "axial")
    split = make_split(TrainConfig(task="segmentation", view="axial", data=[]), both)
    S.check_disjoint(split)
    assert set(split["test"]) & {r.patient_id for r in recs} == test_ids
    assert not test_ids & (set(split["train"]) | set(split["val"]))
    assert sum(p.startswith("mendeley-axial:") for p in split["val"]) == 2  # a quarter of 9 train slices
    assert any(p.startswith("phantom:") for p in split["train"]) and "fixed by the data set" in split["method"]
    # records without a fixed split are split exactly as before
    ph = load_records(phantom_dir, "segmentation", "axial")
    assert make_split(TrainConfig(task="segmentation", view="axial", data=[]), ph) == S.split_patients(
        [r.patient_id for r in ph], seed=0, strata={r.patient_id: r.source for r in ph}
    )


@pytest.mark.skipif(not os.path.isdir(annotated.image_dir(REAL_ANN)), reason="real Mendeley axial images not here")
def test_real_annotations_split():
    recs = load_records(REAL_ANN, "segmentation", "axial")
    assert len(recs) == 64 and sum(r.meta["disc"] for r in recs) == 47
    split = make_split(TrainConfig(task="segmentation", view="axial", data=[REAL_ANN]), recs)
    test = {r.patient_id for r in recs if r.meta["split"] == "test"}
    assert set(split["test"]) == test and len(test) == 18 and all("validation__" in p for p in test)
    assert len(split["val"]) == annotated.VAL_SLICES and len(split["train"]) == 46 - annotated.VAL_SLICES
    assert not test & (set(split["train"]) | set(split["val"]))


def test_mri_augment():
    rng = np.random.default_rng(0)
    img = np.clip(rng.normal(100, 30, (2, 48, 40)), 0, 255).astype(np.uint8)[0]
    mask = np.zeros((1, 48, 40), np.uint8)
    mask[0, 10:20, 10:30] = 1
    aug = MRIAugment(extra=True)
    a = aug.segmentation(img, mask, np.random.default_rng(7))
    b = aug.segmentation(img, mask, np.random.default_rng(7))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])  # deterministic with a seed
    assert a[0].shape == img.shape and a[0].dtype == np.uint8 and a[1].shape == mask.shape
    # the MRI part alone: bias field + noise change the image, keep shape, dtype and range, never the mask
    only = MRIAugment(flip_p=0.0, brightness=(1.0, 1.0), mri_p=1.0)
    for seed in range(5):
        out, m = only.segmentation(img, mask, np.random.default_rng(seed))
        assert out.shape == img.shape and out.dtype == np.uint8 and np.array_equal(m, mask)
        assert np.abs(out.astype(int) - img).mean() > 0.5
    x = only.intensity(np.full((32, 32), 255, np.uint8), np.random.default_rng(1))
    assert x.min() >= 0 and x.max() <= 255 and x.std() > 0  # the field is not flat
    assert np.array_equal(
        MRIAugment(mri_p=0.0, flip_p=0.0, brightness=(1.0, 1.0)).segmentation(img, mask, np.random.default_rng(0))[0],
        img,
    )


def test_oversample_weights():
    pats = ["mendeley-axial:a", "mendeley-axial:b", "phantom:P1", "phantom:P2", "phantom:P3", "phantom:P4"]
    w = oversample_weights(pats, "mendeley-axial=0.5")
    assert w.sum() == pytest.approx(1.0) and w[:2].sum() == pytest.approx(0.5) and w[0] == w[1] and w[2] == w[5]
    assert oversample_weights(pats, None) is None and oversample_weights(pats[:2], "mendeley-axial=0.5") is None
    with pytest.raises(SystemExit):
        oversample_weights(pats, "spider=0.5")
    with pytest.raises(SystemExit):
        oversample_weights(pats, "mendeley-axial=1.5")


def test_train_evaluate_script(ann, phantom_dir, tmp_path):
    ann_dir, img_dir = ann
    env = {"LUMBAR_MENDELEY_AXIAL_DIR": img_dir}
    run = str(tmp_path / "run")
    args = [
        "--task",
        "seg",
        "--view",
        "axial",
        "--data",
        ann_dir,
        "--data",
        phantom_dir,
        "--seg-size",
        "64",
        "--filters",
        "4-8",
        "--quiet",
        "--batch-size",
        "4",
        "--optimizer",
        "adam",
        "--lr",
        "1e-3",
    ]
    old = os.environ.get("LUMBAR_MENDELEY_AXIAL_DIR")
    os.environ["LUMBAR_MENDELEY_AXIAL_DIR"] = img_dir
    try:
        assert (
            main(
                [
                    "train",
                    *args,
                    "--out",
                    run,
                    "--epochs",
                    "1",
                    "--max-steps",
                    "1",
                    "--augment-extra",
                    "--augment-mri",
                    "--oversample",
                    "mendeley-axial=0.5",
                    "--no-eval-train",
                ]
            )
            == 0
        )
        packed = str(tmp_path / "p.npz")
        assert main(["pack", *args, "--out", packed]) == 0
    finally:
        if old is None:
            os.environ.pop("LUMBAR_MENDELEY_AXIAL_DIR", None)
        else:
            os.environ["LUMBAR_MENDELEY_AXIAL_DIR"] = old
    split = json.load(open(os.path.join(run, "split.json")))
    S.check_disjoint(split)
    test_ids = {f"mendeley-axial:{s}" for s, _, _, p in SLICES if p == "test"}
    assert test_ids <= set(split["test"]) and not test_ids & (set(split["train"]) | set(split["val"]))
    from training.pack import load_packed

    meta, psplit, _ = load_packed(packed)
    assert psplit["test"] == split["test"] and any(c["name"].startswith("Mendeley") for c in meta["training_data"])
    cfg = json.load(open(os.path.join(run, "config.json")))
    assert cfg["augment_mri"] and cfg["oversample"] == "mendeley-axial=0.5"

    # the evaluation script: one JSON line with the figures, on the run's val part, the test part and a phantom
    keys = {"n", "n_disc", "n_no_disc", "dice", "mean_dice", "found", "found_area", "clean", "clean_area", "dice_all"}
    for part, extra in (("test", ["--phantom", phantom_dir]), ("val", ["--split", os.path.join(run, "split.json")])):
        res = fakedata.run_json(
            run, "--data", ann_dir, "--part", part, *extra, module="training.experiments.axial_seg_real", env=env
        )
        assert res["part"] == part and res["runtime"] == "torch"
        assert keys <= set(res["real"]) and keys <= set(res["real"]["T1"]) and keys <= set(res["real"]["T2"])
        for k in ("found", "found_area", "clean", "clean_area", "mean_dice"):
            v = res["real"][k]
            assert v is None or 0 <= v <= 1
        if part == "test":
            assert res["real"]["n"] == 4 and res["real"]["n_disc"] == 3 and res["real"]["n_no_disc"] == 1
            assert res["phantom"]["n"] == 20 and 0 <= res["phantom"]["dice"] <= 1
        else:
            assert res["real"]["n"] == sum(p.startswith("mendeley-axial:") for p in split["val"])
    # evaluate (the CLI) reads the layout too
    res = fakedata.run_json(
        "evaluate",
        *flags(model=run, data=ann_dir, split=os.path.join(run, "split.json"), part="test"),
        "--quiet",
        env=env,
    )
    assert res["layout"] == "annotated" and res["data_kind"] == "real" and res["n"] == len(test_ids)
