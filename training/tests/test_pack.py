"""Packed data (``python -m training pack``, ``train --data FILE.npz``) and the training options used for
the GPU runs (cosine LR schedule, monitor by metric, DataLoader workers, time limit)."""

import json
import os

import numpy as np
import pytest
import torch

from training import splits as S
from training.cli import main
from training.engine import TrainConfig, cosine_factor, load_all, make_split, prepare, train
from training.inference import load_checkpoint
from training.pack import PACK_FORMAT, is_packed, load_packed, pack
from training.tests import fakedata
from training.tests.fakedata import flags

TINY_SEG = ["--seg-size", "32", "--filters", "4-8", "--quiet"]


@pytest.fixture(scope="module")
def extra_phantom(tmp_path_factory):
    # another "seed" of the phantom whose patient ids (P0000...) collide with phantom_dir's
    return fakedata.make_phantom(str(tmp_path_factory.mktemp("extra")), n_patients=4, per_view=1, seed=7)


def test_pack_cls_equals_prepare(tmp_path, phantom_dir):
    cfg = TrainConfig(task="classification", view="axial", data=[phantom_dir], progress=False)
    out = str(tmp_path / "ax.npz")
    res = pack(cfg, out)
    assert is_packed(out) and not is_packed(phantom_dir)
    meta, split, parts = load_packed(out)
    assert meta["format"] == PACK_FORMAT and meta["classes"] == ["healthy", "bulge", "central", "left", "right"]
    assert meta["training_data"][0]["kind"] == "synthetic"
    rc = cfg.resolved()
    records = load_all(rc)
    ref_split = make_split(rc, records)
    ref = prepare(rc, records, ref_split)
    assert {k: split[k] for k in ("train", "val", "test")} == {k: ref_split[k] for k in ("train", "val", "test")}
    for name in ("train", "val", "test"):
        assert np.array_equal(parts[name]["crops"], ref[name]["crops"])
        assert np.array_equal(parts[name]["labels"], ref[name]["labels"])
        assert parts[name]["ids"] == ref[name]["ids"] and parts[name]["patients"] == ref[name]["patients"]
        assert res["images"][name] == len(ref[name]["crops"])


def test_pack_seg_with_split_and_extra(tmp_path, phantom_dir, spider_dir, extra_phantom):
    # split of a combined run, applied to one of its data folders (as sag-seg-unet's stage 2 does)
    base = TrainConfig(
        task="segmentation", view="sagittal", data=[spider_dir, phantom_dir], seg_size=32, progress=False
    )
    rb = base.resolved()
    split_path = S.write_split(make_split(rb, load_all(rb)), str(tmp_path / "split.json"))
    cfg = TrainConfig(
        task="segmentation", view="sagittal", data=[spider_dir], seg_size=32, split=split_path, progress=False
    )
    out = str(tmp_path / "seg.npz")
    res = pack(cfg, out, extra_train=[extra_phantom], extra_max=3)
    meta, split, parts = load_packed(out)
    assert res["extra_train"][0]["records"] == 3
    assert parts["train"]["images"].shape[1:] == (32, 32) and parts["train"]["targets"].shape[1:] == (1, 32, 32)
    extra = [p for p in parts["train"]["patients"] if "@" in p]
    assert len([i for i in parts["train"]["ids"] if i.endswith("@7")]) == 3 and all(p.endswith("@7") for p in extra)
    assert set(extra) <= set(split["train"])
    S.check_disjoint(split)
    ref = S.read_split(split_path)
    assert split["val"] == ref["val"] and split["test"] == ref["test"]
    assert all(p.startswith("spider:") for name in ("val", "test") for p in parts[name]["patients"])
    assert [c["name"] for c in meta["training_data"]] == ["SPIDER", "lumbar phantom"]
    assert meta["training_data"][1]["role"].startswith("extra training data")
    # the SPIDER part equals what train would have built from the folders
    rc = cfg.resolved()
    recs = load_all(rc)
    ref_parts = prepare(rc, recs, make_split(rc, recs))
    for name in ("val", "test"):
        assert np.array_equal(parts[name]["images"], ref_parts[name]["images"])
        assert np.array_equal(parts[name]["targets"], ref_parts[name]["targets"])
    n_spider = len(ref_parts["train"]["images"])
    assert np.array_equal(parts["train"]["images"][:n_spider], ref_parts["train"]["images"])


def test_train_on_packed_cli(tmp_path, phantom_dir):
    out_npz = str(tmp_path / "p.npz")
    assert main(["pack", "--task", "seg", "--view", "axial", "--data", phantom_dir, "--out", out_npz, *TINY_SEG]) == 0
    run = str(tmp_path / "run")
    assert (
        main(
            [
                "train",
                *flags(
                    task="seg",
                    view="axial",
                    data=out_npz,
                    out=run,
                    epochs=2,
                    max_steps=4,
                    batch_size=4,
                    optimizer="adam",
                    lr="1e-3",
                    lr_schedule="cosine",
                    monitor="metric",
                    workers=2,
                    filters="4-8",
                ),
                "--quiet",
            ]
        )
        == 0
    )
    ck = load_checkpoint(run)
    assert ck["arch_kwargs"]["input_size"] == 32  # from the packed file, whatever --seg-size says
    assert ck["training_data"][0]["name"] == "lumbar phantom"
    assert ck["config"]["lr_schedule"] == "cosine" and ck["config"]["workers"] == 2
    meta, split, _ = load_packed(out_npz)
    assert json.load(open(os.path.join(run, "split.json")))["test"] == split["test"]
    h = json.load(open(os.path.join(run, "history.json")))
    assert h[-1]["steps"] <= 4 and h[0]["lr"] < 1e-3
    # wrong task/view and --split are refused
    with pytest.raises(SystemExit):
        main(
            [
                "train",
                *flags(task="cls", view="axial", data=out_npz, out=str(tmp_path / "x"), max_steps=1),
                "--quiet",
            ]
        )
    with pytest.raises(SystemExit):
        main(
            [
                "train",
                *flags(
                    task="seg",
                    view="axial",
                    data=out_npz,
                    split=os.path.join(run, "split.json"),
                    out=str(tmp_path / "y"),
                    max_steps=1,
                ),
                *TINY_SEG,
            ]
        )


def test_packed_cls_train_matches_folder_train(tmp_path, phantom_dir):
    kw = dict(
        task="classification", view="axial", epochs=1, max_steps=3, batch_size=4, lr=1e-3, progress=False, plots=False
    )
    npz = str(tmp_path / "c.npz")
    pack(TrainConfig(task="classification", view="axial", data=[phantom_dir], progress=False), npz)
    a = load_checkpoint(train(TrainConfig(data=[phantom_dir], out=str(tmp_path / "a"), **kw))["run"])
    b = load_checkpoint(train(TrainConfig(data=[npz], out=str(tmp_path / "b"), **kw))["run"])
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert a["metrics"]["test"]["accuracy"] == b["metrics"]["test"]["accuracy"]


def test_cosine_factor():
    assert cosine_factor(0, 100) == pytest.approx(1.0)
    assert cosine_factor(50, 100) == pytest.approx(0.51)
    assert cosine_factor(100, 100) == pytest.approx(0.02) == cosine_factor(500, 100)
    assert cosine_factor(3, 0) == 1.0


def test_time_limit_stops(tmp_path, phantom_dir):
    res = train(
        TrainConfig(
            task="classification",
            view="axial",
            data=[phantom_dir],
            out=str(tmp_path / "t"),
            epochs=50,
            batch_size=4,
            lr=1e-3,
            time_limit=0.0,
            progress=False,
            plots=False,
        )
    )
    assert res["history"][-1].get("stopped") == "time limit" and len(res["history"]) == 1


def test_png_roundtrip():
    from training.pack import decode_png, encode_png

    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 17, 23), dtype=np.uint8)
    data, off = encode_png(imgs)
    assert off[0] == 0 and off[-1] == len(data) and len(off) == 6
    assert np.array_equal(decode_png(data, off, (17, 23)), imgs)
    assert decode_png(*encode_png(np.zeros((0, 4, 4), np.uint8)), (4, 4)).shape == (0, 4, 4)


def test_pack_add_predicted(tmp_path, phantom_dir):
    # a U-Net that calls every pixel disc: its crops are the whole image
    seg = train(fakedata.tiny_axial("segmentation", [phantom_dir], str(tmp_path / "seg")))
    fakedata.disc_everywhere(seg["run"])
    cfg = TrainConfig(task="classification", view="axial", data=[phantom_dir], seg_model=seg["run"], progress=False)
    out = str(tmp_path / "pred.npz")
    pack(cfg, out, add_predicted=["train", "val"])
    _, _, parts = load_packed(out)
    plain = str(tmp_path / "plain.npz")
    pack(TrainConfig(task="classification", view="axial", data=[phantom_dir], progress=False), plain)
    _, _, ref = load_packed(plain)
    for name in ("train", "val"):
        n = len(ref[name]["crops"])
        assert len(parts[name]["crops"]) == 2 * n
        assert np.array_equal(parts[name]["crops"][:n], ref[name]["crops"])
        assert parts[name]["mask_source"] == ["ground-truth"] * n + ["predicted"] * n
        assert all(i.endswith("#pred") for i in parts[name]["ids"][n:])
        assert np.array_equal(parts[name]["labels"][n:], ref[name]["labels"])
        assert not np.array_equal(parts[name]["crops"][n:], ref[name]["crops"])  # whole-image crops differ
    assert np.array_equal(parts["test"]["crops"], ref["test"]["crops"])
    with pytest.raises(ValueError):
        pack(
            TrainConfig(task="classification", view="axial", data=[phantom_dir], progress=False),
            str(tmp_path / "x.npz"),
            add_predicted=["train"],
        )


def test_init_from_shipped_model_folder(tmp_path, phantom_dir):
    from training.export import export
    from training.inference import init_state_dict
    from training.models import build_model

    run = train(fakedata.tiny_axial("classification", [phantom_dir], str(tmp_path / "c")))["run"]
    export(run, str(tmp_path / "m"), name="ax-cls-discnet")
    ck = load_checkpoint(run)
    model = build_model("discnet", **ck["arch_kwargs"])
    sd = init_state_dict(str(tmp_path / "m"), model)
    for k, v in ck["state_dict"].items():
        if not k.endswith("num_batches_tracked"):
            assert torch.allclose(sd[k], v), k
    with pytest.raises(ValueError):
        init_state_dict(str(tmp_path / "m"), build_model("discnet", num_classes=3))
    res = train(
        fakedata.tiny_axial(
            "classification", [phantom_dir], str(tmp_path / "c2"), max_steps=1, init=str(tmp_path / "m")
        )
    )
    assert os.path.isfile(res["checkpoint"])


def test_evaluate_predicted_masks(tmp_path, phantom_dir):
    from training.evaluate import evaluate

    seg = train(fakedata.tiny_axial("segmentation", [phantom_dir], str(tmp_path / "seg")))
    fakedata.disc_everywhere(seg["run"])
    cls = train(fakedata.tiny_axial("classification", [phantom_dir], str(tmp_path / "cls")))
    gt = evaluate(cls["run"], phantom_dir, progress=False)
    pred = evaluate(cls["run"], phantom_dir, seg_model=seg["run"], progress=False, predicted_masks=True)
    assert gt["n"] == pred["n"] == 20 and "masks" in pred and "masks" not in gt
    with pytest.raises(ValueError):
        evaluate(cls["run"], phantom_dir, progress=False, predicted_masks=True)
