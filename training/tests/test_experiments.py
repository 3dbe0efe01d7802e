"""Smoke tests of training/experiments/ and training/tools/ (the studies behind figures in the docs, formerly
scripts/*.py): each main() runs on tiny fake data (training/tests/fakedata.py) or, where that is quick, on the real
data in ../shared/data, and prints what the docs quote (one JSON line per result, with the expected keys)."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

from training import splits as S
from training.experiments import (
    ax_cls_semisynthetic_eval,
    axial_label_changes,
    axial_seg_real,
    sag_disc_cv,
    sag_review_sheet,
    seg_cv_dice,
    seg_dice_by_patient,
    seg_mask_roundtrip,
    seg_scale_sensitivity,
    seg_tta_sweep,
)
from training.tests.conftest import ROOT
from training.tools import axial_annotate, make_semisynthetic_axial

SAG_SEG = os.path.join(ROOT, "models", "sag-seg-unet")
AX_SEG = os.path.join(ROOT, "models", "ax-seg-unet")
AX_CLS = os.path.join(ROOT, "models", "ax-cls-discnet")
MENDELEY_AXIAL = os.path.join(ROOT, "..", "shared", "data", "mendeley-axial-unlabelled")


def _lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def _spider_split(spider_dir: str, path: str, count: int = 2) -> str:
    """A split of the fake SPIDER patients in the format of models/sag-seg-unet/report/stage1-split.json: ``n``
    validation and ``count`` test patients (2 slices each)."""
    patients = sorted({f"spider:{n.split('_')[0]}" for n in os.listdir(os.path.join(spider_dir, "t2_space", "images"))})
    val, test = patients[4 : 4 + count], patients[6 : 6 + count]
    split = {"train": patients[:4], "val": val, "test": test, "method": "test", "seed": 0}
    S.write_split(split, path)
    return path


class ThresholdSegmenter:
    """Stands in for sag-seg-unet on the fake slices, whose discs are the pixels at 200."""

    def __init__(self, *_args, **_kwargs):
        pass

    def segment(self, image: np.ndarray) -> np.ndarray:
        return (image >= 150).astype(np.uint8)


def test_axial_label_changes(tmp_path, capsys):
    truth = {"studies": [{"patientId": "P1", "levels": {"L4-L5": "central", "L5-S1": "healthy"}}]}
    (tmp_path / "truth.json").write_text(json.dumps(truth))
    rows = [
        ("a", "P1", "axial", "L4-L5", "central"),  # as the truth says
        ("b", "P1", "axial", "L4-L5", "healthy"),  # a slice that misses the herniation
        ("c", "P1", "axial", "L5-S1", "healthy"),
        ("d", "P1", "sagittal", "L4-L5", "central"),  # not axial: not counted
    ]
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["sample", "patient_id", "view", "level", "class"])
        w.writerows(rows)
    assert axial_label_changes.main([str(tmp_path)]) == 0
    [res] = _lines(capsys)
    assert res == {
        "axial_labels": 3,
        "differ_from_truth": 1,
        "fraction": 0.333,
        "by_change": {"central->healthy": 1},
        "by_truth": {"central": 2, "healthy": 1},
    }
    with pytest.raises(SystemExit):
        axial_label_changes.main([])


def test_seg_mask_roundtrip(spider_dir, monkeypatch, capsys):
    monkeypatch.setattr(seg_mask_roundtrip, "SPIDER", spider_dir)
    assert seg_mask_roundtrip.main(["64", "96"]) == 0
    head, *sizes = _lines(capsys)
    assert head["masks"] == 16 and head["shapes"] == [[80, 64]] and head["disc_thickness_px"]["mean"] > 0
    assert [s["letterbox"] for s in sizes] == [64, 96]
    for s in sizes:
        assert set(s) == {"letterbox", "scale", "dice_nearest", "dice_smooth"}
        assert 0.5 < s["dice_nearest"] <= 1 and 0.5 < s["dice_smooth"] <= 1
    assert sizes[1]["scale"] == 1.2  # 96 over the larger side of 80 x 64


def test_seg_scale_sensitivity(spider_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(seg_scale_sensitivity, "SPIDER", spider_dir)
    monkeypatch.setattr(seg_scale_sensitivity, "SPLIT", _spider_split(spider_dir, str(tmp_path / "split.json")))
    assert seg_scale_sensitivity.main([SAG_SEG, "0.9", "1.0"]) == 0
    res = _lines(capsys)
    assert [r["zoom"] for r in res] == [0.9, 1.0]
    for r in res:
        assert r["model"] == "sag-seg-unet" and r["slices"] == 8 and 0 <= r["dice"] <= 1


def test_seg_dice_by_patient(spider_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(seg_dice_by_patient, "SPIDER", spider_dir)
    monkeypatch.setattr(seg_dice_by_patient, "SPLIT", _spider_split(spider_dir, str(tmp_path / "split.json")))
    assert seg_dice_by_patient.main([SAG_SEG]) == 0
    res = _lines(capsys)
    # sag-seg-unet's card says bilinear-probability: no extra bilinear variant
    assert [(r["part"], r["variant"]) for r in res] == [
        ("val", "plain"),
        ("val", "flip-average"),
        ("test", "plain"),
        ("test", "flip-average"),
    ]
    for r in res:
        assert 0 <= r["dice"] <= 1 and len(r["per_patient"]) == 2


def test_seg_tta_sweep(spider_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(seg_tta_sweep, "SPIDER", spider_dir)
    monkeypatch.setattr(seg_tta_sweep, "SPLIT", _spider_split(spider_dir, str(tmp_path / "split.json"), count=1))
    assert seg_tta_sweep.main([SAG_SEG]) == 0
    res = _lines(capsys)
    assert len(res) == 9 * 4 + 4  # 9 variants x 4 thresholds, 4 small-component sizes
    base = int(json.load(open(os.path.join(SAG_SEG, "model.json")))["input"]["shape"][-1])
    assert res[0]["variant"] == f"plain {base}" and res[0]["threshold"] == 0.3
    keys = {"variant", "threshold", "val_dice", "val_precision", "val_recall", "test_dice", "test_per_patient"}
    assert all(set(r) == keys for r in res)
    assert res[-1]["variant"] == f"plain {base}, components under 40 px removed"


def test_seg_cv_dice(spider_dir, tmp_path, capsys):
    # two "folds": the shipped model's files, each with a split whose test part is half of the patients
    runs = tmp_path / "runs"
    patients = sorted({f"spider:{n.split('_')[0]}" for n in os.listdir(os.path.join(spider_dir, "t2_space", "images"))})
    for k, test in enumerate((patients[:4], patients[4:])):
        fold = runs / f"fold-{k}"
        fold.mkdir(parents=True)
        for f in ("model.onnx", "model.json"):
            os.symlink(os.path.join(SAG_SEG, f), fold / f)
        S.write_split({"train": [], "val": [], "test": test}, str(fold / "split.json"))
    assert seg_cv_dice.main([str(runs), spider_dir]) == 0
    *per, summary = _lines(capsys)
    assert [p["patient"] for p in per] == patients
    assert {p["fold"] for p in per} == {"fold-0", "fold-1"}
    assert summary["folds"] == 2 and summary["patients"] == 8
    assert {"pooled_dice", "mean_patient_dice", "median", "min", "max", "patients_at_least_0.90"} <= set(summary)
    with pytest.raises(SystemExit):
        seg_cv_dice.main([str(tmp_path / "nothing"), spider_dir])


def test_sag_disc_cv(spider_dir, monkeypatch, capsys):
    monkeypatch.setattr(sag_disc_cv, "SPIDER", spider_dir)
    monkeypatch.setattr(sag_disc_cv, "Runner", ThresholdSegmenter)
    monkeypatch.setattr(sag_disc_cv, "FOLDS", 4)
    assert sag_disc_cv.main(["1", "paper"]) == 0
    [res] = _lines(capsys)
    # 11 slices (8 patients, 3 of them twice: _t2 and _t2_SPACE), 5 graded discs each; herniated IVD 1 / 2 by patient
    assert res["crop"] == "paper" and res["epochs"] == 1 and res["patients"] == 8 and res["discs"] == 55
    assert res["herniated"] == 11
    assert res["L4-L5 and L5-S1"]["n"] == 22 and res["all levels"]["n"] == 55
    assert {"balanced_accuracy", "herniated_recall", "healthy_recall", "roc_auc"} <= set(res["all levels"])


def test_sag_review_sheet(spider_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sag_review_sheet, "Runner", ThresholdSegmenter)
    monkeypatch.setattr(sag_review_sheet, "MIN_PATIENTS", 2)
    out = tmp_path / "sheet"
    assert sag_review_sheet.main([spider_dir, str(out)]) == 0
    [res] = _lines(capsys)
    assert res["slices"] == 11 and res["patients"] == 8  # 8 x {p}_t2.png + 3 x {p}_t2_SPACE.png
    assert res["found_minus_num_discs_spine_discs"] == {}  # the fake data has no overview.csv
    index = json.load(open(out / "index.json"))
    assert index["pages"] and all((out / p["page"]).is_file() for p in index["pages"])


def test_ax_cls_semisynthetic_eval(phantom_dir, tmp_path, capsys):
    # the fake phantom's axial slices stand in for the inserted ones (no _ax_orig / _ax_sham among them)
    patients = sorted({n.split("_")[0] for n in os.listdir(os.path.join(phantom_dir, "images"))})
    split = str(tmp_path / "split.json")
    S.write_split({"train": [], "val": [], "test": [f"phantom:{p}" for p in patients]}, split)
    argv = [AX_CLS, "--semi", phantom_dir, "--split", split, "--phantom", "", "--part", "test"]
    assert ax_cls_semisynthetic_eval.main(argv) == 0
    [res] = _lines(capsys)
    assert res["runtime"] == "onnx" and res["real_slices"] == 10
    s = res["semisynthetic"]
    assert s["n"] == 20 and len(s["confusion_matrix"]) == 5
    assert {"left_called_right", "right_called_left", "side_error_rate"} <= set(s["left_right"])
    assert res["unmodified"] == {
        "n": 0,
        "predicted": dict.fromkeys(["healthy", "bulge", "central", "left", "right"], 0),
    }
    assert "phantom" not in res


@pytest.mark.skipif(not os.path.isdir(MENDELEY_AXIAL), reason="../shared/data/mendeley-axial-unlabelled is absent")
def test_axial_seg_real_on_the_real_test_slices(capsys):
    # the figures of docs/BENCHMARKS.md's headline table (ax-seg-unet, 18 held-out real slices)
    assert axial_seg_real.main([AX_SEG, "--part", "test"]) == 0
    [res] = _lines(capsys)
    assert res["runtime"] == "onnx" and res["part"] == "test" and res["split"] == "labels.csv test"
    assert res["real"]["n"] == 18 and res["real"]["n_disc"] == 13
    assert res["real"]["dice"] > 0.8 and res["real"]["found"] == 1.0


@pytest.mark.parametrize(
    "module, words",
    [
        (axial_seg_real, ["--part", "--phantom", "--min-area"]),
        (ax_cls_semisynthetic_eval, ["--semi", "--split", "--part"]),
        (axial_annotate, ["build", "propose", "correct", "montage", "review"]),
        (make_semisynthetic_axial, ["--variants", "--sham", "--val-slices"]),
        (seg_cv_dice, ["RUNS DATA"]),
        (sag_disc_cv, ["EPOCHS", "CROPS"]),
        (sag_review_sheet, ["DATA", "OUT_DIR"]),
        (seg_tta_sweep, ["MODEL"]),
    ],
)
def test_help(module, words, capsys):
    try:
        rc = module.main(["--help"])
    except SystemExit as e:  # argparse
        rc = e.code
    assert rc in (0, None)
    out = capsys.readouterr().out
    assert all(w in out for w in words)
