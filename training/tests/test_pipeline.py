"""End-to-end: train (segmentation, classification), evaluate (CLI, JSON last on stdout), export
(ONNX vs PyTorch), compare, crossval, gridsearch, retrain-all, on tiny fake data and tiny models."""

import json
import os

import numpy as np
import pytest
import torch

from training import splits as S
from training.cli import main
from training.engine import TrainConfig, train
from training.export import export
from training.inference import Runner, load_checkpoint
from training.tests import fakedata
from training.tests.fakedata import flags

TINY_SEG = ["--seg-size", "32", "--filters", "4-8", "--quiet"]


@pytest.fixture(scope="module")
def mini_phantom(tmp_path_factory):
    return fakedata.make_phantom(str(tmp_path_factory.mktemp("mini")), n_patients=6, per_view=1)


@pytest.fixture(scope="module")
def seg_run(tmp_path_factory, phantom_dir, spider_dir):
    out = str(tmp_path_factory.mktemp("runs") / "seg")
    assert (
        main(
            [
                "train",
                *flags(
                    task="seg",
                    view="sagittal",
                    data=[spider_dir, phantom_dir],
                    out=out,
                    epochs=2,
                    max_steps=3,
                    batch_size=4,
                    optimizer="adam",
                    lr="1e-3",
                ),
                *TINY_SEG,
            ]
        )
        == 0
    )
    return out


def test_seg_run_folder(seg_run):
    for f in (
        "checkpoint.pt",
        "split.json",
        "metrics.json",
        "history.json",
        "config.json",
        "summary.md",
        "loss.png",
        "dice.png",
    ):
        assert os.path.isfile(os.path.join(seg_run, f)), f
    split = json.load(open(os.path.join(seg_run, "split.json")))
    S.check_disjoint(split)
    assert any(p.startswith("spider:") for p in split["train"]) and any(
        p.startswith("phantom:") for p in split["train"]
    )
    m = json.load(open(os.path.join(seg_run, "metrics.json")))
    for part in ("train", "val", "test"):
        assert 0 <= m["parts"][part]["dice"] <= 1
    ck = load_checkpoint(seg_run)
    assert ck["task"] == "segmentation" and ck["classes"] == ["disc"]
    assert ck["arch_kwargs"]["filters"] == [4, 8]
    assert {c["name"] for c in ck["training_data"]} == {"SPIDER", "lumbar phantom"}
    h = json.load(open(os.path.join(seg_run, "history.json")))
    assert h[-1]["steps"] <= 3


def test_seed_reproducible(tmp_path, phantom_dir):
    res = []
    for i in range(2):
        cfg = fakedata.tiny_axial("classification", [phantom_dir], str(tmp_path / f"r{i}"))
        res.append(load_checkpoint(train(cfg)["run"])["state_dict"])
    assert all(torch.equal(res[0][k], res[1][k]) for k in res[0])


def test_cls_train_evaluate_export(tmp_path, phantom_dir, spider_dir):
    out = str(tmp_path / "cls")
    assert (
        main(
            [
                "train",
                *flags(
                    task="cls", view="axial", data=phantom_dir, out=out, epochs=2, max_steps=4, batch_size=4, lr="1e-3"
                ),
                "--quiet",
            ]
        )
        == 0
    )
    for f in ("confusion.png", "roc.png", "pr.png", "accuracy.png", "loss.png", "summary.md", "predictions_test.json"):
        assert os.path.isfile(os.path.join(out, f)), f
    m = json.load(open(os.path.join(out, "metrics.json")))
    assert m["classes"] == ["healthy", "bulge", "central", "left", "right"]
    assert m["params"]["total"] == 342_691 - 129_795 + (43_264 * 5 + 5)

    model_dir = str(tmp_path / "models" / "ax-cls-discnet")
    assert main(["export", "--run", out, "--out", model_dir, "--name", "ax-cls-discnet"]) == 0
    card = json.load(open(os.path.join(model_dir, "model.json")))
    assert card["task"] == "classification" and card["view"] == "axial"
    assert card["output"]["classes"] == ["healthy", "bulge", "central", "left", "right"]
    assert card["input"]["shape"] == [None, 3, 64, 64]
    pre = card["preprocessing"]
    assert pre["clahe"]["clip_limit"] == 2.0 and pre["clahe"]["tile_grid"] == [4, 4]
    assert pre["bbox"]["margin_percent_each_side"] == 5 and pre["resize"]["size"] == [64, 64]
    assert pre["dicom_to_uint8"]["low_percentile"] == 0.5 and pre["channels"]["count"] == 3
    assert card["training_data"][0]["kind"] == "synthetic"
    assert card["export_check"]["max_abs_diff"] < 1e-4
    assert "test" in card["metrics"] and "data" in card["metrics"]

    # evaluate through the CLI: JSON last on stdout; ONNX and checkpoint agree
    res = fakedata.run_json("evaluate", "--model", model_dir, "--data", phantom_dir, "--quiet")
    assert res["runtime"] == "onnx" and res["n"] == 20 and 0 <= res["accuracy"] <= 1
    assert set(res["per_class"]) == {"healthy", "bulge", "central", "left", "right"}
    from training.evaluate import evaluate

    res_torch = evaluate(out, phantom_dir, progress=False)
    assert res_torch["runtime"] == "torch" and res_torch["accuracy"] == pytest.approx(res["accuracy"])
    res_test = evaluate(
        model_dir,
        phantom_dir,
        split=os.path.join(out, "split.json"),
        part="test",
        out=str(tmp_path / "eval"),
        progress=False,
    )
    assert res_test["n"] < 20 and os.path.isfile(tmp_path / "eval" / "confusion.png")


def test_onnx_matches_pytorch_segmentation_fixed_batch(tmp_path, seg_run):
    model_dir = str(tmp_path / "sag-seg-unet")
    card = export(seg_run, model_dir, name="sag-seg-unet", dynamic_batch=False)
    assert card["export_check"]["max_abs_diff"] < 1e-4
    assert card["input"]["shape"] == [1, 1, 32, 32] and card["output"]["activation"] == "sigmoid"
    assert card["preprocessing"]["letterbox"]["size"] == [32, 32]
    import onnx

    model = onnx.load(os.path.join(model_dir, "model.onnx"))
    assert any(o.version == 17 for o in model.opset_import if o.domain in ("", "ai.onnx"))
    # onnxruntime vs PyTorch on a real-looking image, through the runners
    img = (np.random.default_rng(0).random((50, 40)) * 255).astype(np.uint8)
    a = Runner(model_dir).segment(img)
    b = Runner(seg_run).segment(img)
    assert a.shape == (50, 40) and (a != b).mean() < 0.01


def test_sagittal_cls_with_predicted_masks(tmp_path, spider_dir, phantom_dir, seg_run):
    # A U-Net that predicts disc everywhere: crops = the whole image, so every SPIDER image is kept.
    seg_dir = fakedata.disc_everywhere(seg_run, str(tmp_path / "allseg"))
    res = train(
        TrainConfig(
            task="classification",
            view="sagittal",
            data=[spider_dir, phantom_dir],
            out=str(tmp_path / "sagcls"),
            epochs=1,
            max_steps=2,
            batch_size=4,
            seg_model=str(seg_dir),
            class_weights="balanced",
            progress=False,
        )
    )
    n = sum(res["metrics"][p]["n"] for p in ("train", "val", "test"))
    assert n == 8 + 16
    preds = json.load(open(os.path.join(res["run"], "predictions_test.json")))
    assert set(preds["mask_source"]) <= {"predicted", "ground-truth"}
    with pytest.raises(ValueError):
        train(
            TrainConfig(
                task="classification",
                view="sagittal",
                data=[spider_dir],
                out=str(tmp_path / "noseg"),
                epochs=1,
                max_steps=1,
                progress=False,
            )
        )


def test_compare_crossval_gridsearch(tmp_path, mini_phantom):
    # all eight CNNs by default (the heavy ones' forward passes are tested in test_models.py;
    # training each of them here would cost about a minute on 2 cores)
    from training.cli import build_parser
    from training.models import CLASSIFIERS

    args = build_parser().parse_args(["compare", "--view", "sagittal", "--data", mini_phantom])
    assert args.models.split(",") == list(CLASSIFIERS) and len(CLASSIFIERS) == 8
    out = str(tmp_path / "cmp")
    assert (
        main(
            [
                "compare",
                *flags(
                    view="sagittal",
                    data=mini_phantom,
                    out=out,
                    models="discnet,lenet,nin",
                    epochs=1,
                    max_steps=1,
                    batch_size=4,
                ),
                "--quiet",
            ]
        )
        == 0
    )
    md = open(os.path.join(out, "compare.md")).read()
    for name in ("DiscNet", "LeNet", "NiN"):
        assert f"| {name} |" in md
    splits = {
        json.dumps(json.load(open(os.path.join(out, a, "split.json"))), sort_keys=True)
        for a in ("discnet", "lenet", "nin")
    }
    assert len(splits) == 1

    out = str(tmp_path / "cv")
    assert (
        main(
            [
                "crossval",
                *flags(task="cls", view="axial", data=mini_phantom, out=out, folds=3, epochs=1, max_steps=1),
                "--quiet",
            ]
        )
        == 0
    )
    cv = json.load(open(os.path.join(out, "crossval.json")))
    folds = json.load(open(os.path.join(out, "folds.json")))["folds"]
    assert len(folds) == 3 and len(cv["folds"]) == 3
    assert sum(len(f) for f in folds) == len(set().union(*map(set, folds))) == 6
    # pooled: every fold's test predictions scored together, each image once
    preds = [json.load(open(os.path.join(out, f"fold-{k}", "predictions_test.json"))) for k in range(3)]
    labels = [y for p in preds for y in p["labels"]]
    hits = sum(int(np.argmax(pr) == y) for p in preds for y, pr in zip(p["labels"], p["probs"]))
    pooled = cv["summary"]["pooled"]["all"]
    assert pooled["n"] == len(labels) == len({i for p in preds for i in p["ids"]}) > 0
    assert pooled["accuracy"] == pytest.approx(hits / len(labels))
    assert list(cv["summary"]["pooled"]) == ["all"]  # one data set: no per-source rows
    assert "Every fold's test predictions together" in open(os.path.join(out, "crossval.md")).read()

    out = str(tmp_path / "gs")
    assert (
        main(
            [
                "gridsearch",
                *flags(
                    task="seg",
                    view="axial",
                    data=mini_phantom,
                    out=out,
                    epochs=1,
                    max_steps=1,
                    batch_sizes="2,4",
                    lrs="0.01",
                    filter_sets="4-8",
                    dropouts="0.1,0.2",
                    max_trials=3,
                    seg_size=32,
                ),
                "--quiet",
            ]
        )
        == 0
    )
    gs = json.load(open(os.path.join(out, "gridsearch.json")))
    assert len(gs["trials"]) == 3 and gs["best"] == gs["trials"][0]
    from training.experiments import PAPER_GRID

    g = PAPER_GRID["segmentation"]
    assert g["batch_size"] == [6, 8, 10, 12] and len(g["lr"]) == 27 and 0.01 in g["lr"] and 0.002 in g["lr"]
    assert g["dropout"] == [0.1, 0.2, 0.3, 0.4, 0.5]


def test_retrain_all(tmp_path, spider_dir, mini_phantom):
    models = str(tmp_path / "models")
    runs = str(tmp_path / "runs")
    tiny = flags(max_steps=1, seg_epochs=1, cls_epochs=1, seg_size=32, filters="4-8")
    assert (
        main(
            [
                "retrain-all",
                *flags(spider=spider_dir, phantom=mini_phantom, models_dir=models, runs_dir=runs),
                *tiny,
                "--quiet",
            ]
        )
        == 0
    )
    for name in ("sag-seg-unet", "ax-seg-unet", "sag-cls-discnet", "ax-cls-discnet"):
        card = json.load(open(os.path.join(models, name, "model.json")))
        assert card["name"] == name and card["export_check"]["max_abs_diff"] < 1e-4
    seg = json.load(open(os.path.join(models, "sag-seg-unet", "model.json")))
    # the 0.3.0 recipe: letterbox 1.5 x --seg-size, learnt from --seg-size crops, probabilities resized bilinearly
    assert seg["input"]["shape"][2:] == [48, 48] and seg["output"]["upsample"] == "bilinear-probability"
    assert (
        seg["preprocessing"]["training_crops"]["size"] == [32, 32] and seg["hyperparameters"]["augment_extra"] is True
    )
    ax = json.load(open(os.path.join(models, "ax-seg-unet", "model.json")))
    assert ax["input"]["shape"][2:] == [32, 32] and ax["output"]["upsample"] == "nearest-mask"
    sag = json.load(open(os.path.join(models, "sag-cls-discnet", "model.json")))
    assert {c["kind"] for c in sag["training_data"]} == {"real", "synthetic"}
    assert any("CC BY 4.0" in c.get("citation", "") for c in sag["training_data"])
    # without --phantom only the SPIDER models are made
    done = fakedata.run_json(
        "retrain-all",
        *flags(spider=spider_dir, models_dir=str(tmp_path / "m2"), runs_dir=str(tmp_path / "r2")),
        *tiny,
        *flags(only="ax-seg-unet,ax-cls-discnet"),
        "--quiet",
    )
    assert "skipped" in done["ax-seg-unet"] and "skipped" in done["ax-cls-discnet"]


def test_crossval_pooled_per_source(tmp_path):
    from training.experiments import _pooled_cls

    folds = [
        {"ids": ["spider:1_t2", "phantom:s1"], "labels": [0, 1], "probs": [[0.9, 0.1], [0.2, 0.8]]},
        {"ids": ["spider:2_t2", "phantom:s2"], "labels": [1, 1], "probs": [[0.7, 0.3], [0.4, 0.6]]},
    ]
    for k, p in enumerate(folds):
        os.makedirs(tmp_path / f"fold-{k}")
        json.dump(p, open(tmp_path / f"fold-{k}" / "predictions_test.json", "w"))
    res = _pooled_cls(str(tmp_path), 3, ["healthy", "herniated"])  # fold-2 missing: skipped
    assert sorted(res) == ["all", "phantom", "spider"]
    assert res["all"]["n"] == 4 and res["all"]["accuracy"] == pytest.approx(0.75)
    assert res["spider"]["confusion_matrix"] == [[1, 0], [1, 0]] and res["spider"][
        "balanced_accuracy"
    ] == pytest.approx(0.5)
    assert res["phantom"]["accuracy"] == 1.0 and res["phantom"]["per_class"]["healthy"]["support"] == 0
