"""Segmentation at larger letterboxes: float bilinear resizing, smooth (bilinear + 0.5) mask letterboxing,
probability upsampling back to the image (``output.upsample``), random training crops (``--crop-size``),
the U-Net size checks, the ``cosine-time`` LR schedule, and a tiny end-to-end run (train, export, pack)."""

import json
import os
import types

import cv2
import numpy as np
import pytest

from training import checkpoints, engine, loop
from training import preprocess as P
from training.cli import main
from training.data import SegDataset, seg_arrays
from training.datasets import load_records
from training.engine import COSINE_FLOOR, TrainConfig, check_seg_sizes, cosine_factor, train
from training.export import export
from training.inference import Runner, load_checkpoint
from training.pack import load_packed
from training.tests.fakedata import flags

SMALL = ["--seg-size", "64", "--filters", "8-16", "--quiet"]
TRAIN_TINY = [*flags(epochs=1, max_steps=2, batch_size=4, optimizer="adam", lr="1e-3"), "--no-eval-train"]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    return 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())


# ------------------------------------------------------------------------------------------------
# resize_bilinear_float
# ------------------------------------------------------------------------------------------------


def test_resize_bilinear_float_identity_and_constant():
    a = np.random.default_rng(0).random((13, 7))
    out = P.resize_bilinear_float(a, 13, 7)
    assert out.dtype == np.float64 and np.array_equal(out, a)
    for shape in ((31, 17), (5, 3), (9, 40), (1, 1)):
        c = P.resize_bilinear_float(np.full((11, 6), 0.37, np.float32), *shape)
        assert c.shape == shape
        assert np.allclose(c, 0.37, rtol=0, atol=1e-7)
    with pytest.raises(ValueError):
        P.resize_bilinear_float(np.zeros((2, 3, 4)), 4, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "src,dst", [((7, 5), (23, 17)), ((10, 10), (30, 30)), ((51, 64), (80, 64)), ((3, 8), (11, 9)), ((64, 51), (64, 80))]
)
def test_resize_bilinear_float_matches_cv2_when_upscaling(dtype, src, dst):
    a = np.random.default_rng(1).random(src).astype(dtype)
    ours = P.resize_bilinear_float(a, *dst)
    ref = cv2.resize(a, (dst[1], dst[0]), interpolation=cv2.INTER_LINEAR)
    assert ours.shape == ref.shape == dst
    assert np.abs(ours - ref.astype(np.float64)).max() < 1e-5


def _interp_1d(v: np.ndarray, n_out: int) -> np.ndarray:
    """Independent 1-D half-pixel linear interpolation with edge clamping (numpy.interp)."""
    n = len(v)
    s = np.clip((np.arange(n_out) + 0.5) * n / n_out - 0.5, 0, n - 1)
    return np.interp(s, np.arange(n), v)


def test_resize_bilinear_float_edge_clamping_on_thin_inputs():
    row = np.array([[0.0, 1.0, 0.25, 0.8]])
    out = P.resize_bilinear_float(row, 3, 10)
    assert out.shape == (3, 10)
    assert np.allclose(out, _interp_1d(row[0], 10)[None, :].repeat(3, 0), atol=1e-12)
    assert out[0, 0] == row[0, 0] and out[0, -1] == row[0, -1]  # clamped, not blended with 0 outside
    col = row.T
    out = P.resize_bilinear_float(col, 9, 2)
    assert out.shape == (9, 2)
    assert np.allclose(out, _interp_1d(col[:, 0], 9)[:, None].repeat(2, 1), atol=1e-12)
    assert out[0, 0] == col[0, 0] and out[-1, 1] == col[-1, 0]
    # 1 x 1 -> anything: the one value everywhere
    assert np.array_equal(P.resize_bilinear_float(np.array([[0.6]]), 4, 5), np.full((4, 5), 0.6))


# ------------------------------------------------------------------------------------------------
# letterbox_mask_smooth
# ------------------------------------------------------------------------------------------------


def test_letterbox_mask_smooth_geometry_and_rectangle_area():
    m = np.zeros((320, 240), np.uint8)
    m[40:280, 60:200] = 1  # 240 x 140 -> x0.8 -> 192 x 112
    out, g = P.letterbox_mask_smooth(m, 256)
    assert out.dtype == np.uint8 and out.shape == (256, 256) and set(np.unique(out)) <= {0, 1}
    assert g == P.letterbox_geometry(320, 240, 256)
    assert (g.new_rows, g.new_cols, g.top, g.left) == (256, 192, 0, 32)
    ys, xs = np.nonzero(out)
    h, w = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    assert abs(h - 192) <= 1 and abs(w - 112) <= 1
    assert out.sum() == h * w  # a filled rectangle stays one
    assert abs(int(ys.min()) - 32) <= 1 and abs(int(xs.min()) - (32 + 48)) <= 1
    assert abs(int(out.sum()) - 192 * 112) <= 192 + 112 + 1
    assert not out[:, :32].any() and not out[:, 32 + 192 :].any()  # padding stays background
    # label values > 1 count as foreground; an empty mask stays empty
    out2, _ = P.letterbox_mask_smooth(m * 3, 256)
    assert np.array_equal(out2, out)
    assert not P.letterbox_mask_smooth(np.zeros((50, 40), np.uint8), 64)[0].any()
    # kept where >= 0.5: halving an 8 x 8 mask with one foreground column averages that column with its neighbour
    m = np.zeros((8, 8), np.uint8)
    m[:, 0] = 1
    out, _ = P.letterbox_mask_smooth(m, 4)
    assert np.array_equal(out, np.array([[1, 0, 0, 0]] * 4, np.uint8))


@pytest.mark.parametrize("slope", [0.0, 0.07])
def test_letterbox_mask_smooth_keeps_thin_band_continuous(slope):
    m = np.zeros((320, 320), np.uint8)
    x0, x1 = 40, 280
    for x in range(x0, x1):
        y = int(round(150 + slope * (x - x0)))
        m[y : y + 3, x] = 1  # 3 px thick
    out, g = P.letterbox_mask_smooth(m, 256)
    assert g.new_rows == g.new_cols == 256
    cols = out.any(0)
    lo, hi = int(np.ceil(x0 * 0.8)), int((x1 - 1) * 0.8)
    assert cols[lo : hi + 1].all(), np.nonzero(~cols[lo : hi + 1])
    assert not cols[: lo - 1].any() and not cols[hi + 2 :].any()
    assert out.sum(0)[lo : hi + 1].max() <= 3  # a band, not a blob


@pytest.mark.parametrize("shape,size", [((320, 260), 256), ((512, 448), 256), ((300, 220), 256), ((200, 160), 64)])
def test_smooth_roundtrip_dice_not_worse_than_nearest(shape, size):
    h, w = shape
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (w // 2, h // 2), (w // 5, h // 14), 7, 0, 360, 1, -1)  # a disc-like slanted ellipse
    smooth, g = P.letterbox_mask_smooth(m, size)
    back_smooth = P.unletterbox_prob(smooth.astype(np.float64), g) > 0.5
    near, g2 = P.letterbox(m, size, nearest=True)
    back_near = P.unletterbox_mask(near, g2)
    assert g == g2 and back_smooth.shape == back_near.shape == (h, w)
    d_smooth, d_near = dice(back_smooth, m), dice(back_near, m)
    assert d_smooth >= d_near, (d_smooth, d_near)
    assert d_smooth > 0.9


def test_seg_arrays_smooth_targets(spider_dir):
    recs = load_records(spider_dir, "segmentation", "sagittal")[:3]
    imgs, tg_smooth = seg_arrays(recs, 64, levels=True, progress=False, smooth=True)
    imgs2, tg_near = seg_arrays(recs, 64, levels=True, progress=False)
    assert np.array_equal(imgs, imgs2) and tg_smooth.shape == tg_near.shape == (3, 7, 64, 64)
    for i, r in enumerate(recs):
        assert np.array_equal(tg_smooth[i, 0], P.letterbox_mask_smooth(r.disc_mask(), 64)[0])
        assert np.array_equal(tg_near[i, 0], P.letterbox(r.disc_mask(), 64, nearest=True)[0])
        lv = r.level_map()
        for k in range(1, 7):
            assert np.array_equal(tg_smooth[i, k], P.letterbox_mask_smooth((lv == k).astype(np.uint8), 64)[0])
            # nearest: the same as the letterboxed level map compared with k (as before smooth masks existed)
            assert np.array_equal(tg_near[i, k], P.letterbox(lv, 64, nearest=True)[0] == k)
    assert not np.array_equal(tg_smooth, tg_near)  # 80 x 64 -> 64 x 51: the two rules differ somewhere


# ------------------------------------------------------------------------------------------------
# unletterbox_prob / prob_to_mask
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rows,cols,size", [(80, 64, 64), (50, 40, 32), (300, 500, 64), (20, 30, 64)])
def test_unletterbox_prob_and_prob_to_mask(rows, cols, size):
    g = P.letterbox_geometry(rows, cols, size)
    rng = np.random.default_rng(rows)
    prob = rng.random((size, size)).astype(np.float32)
    up = P.unletterbox_prob(prob, g)
    assert up.shape == (rows, cols)
    inner = prob[g.top : g.top + g.new_rows, g.left : g.left + g.new_cols]
    assert np.array_equal(up, P.resize_bilinear_float(inner, rows, cols))
    # the zero padding around the image never leaks into the image
    const = np.zeros((size, size), np.float32)
    const[g.top : g.top + g.new_rows, g.left : g.left + g.new_cols] = 0.75
    assert np.allclose(P.unletterbox_prob(const, g), 0.75, atol=1e-7)

    near = P.prob_to_mask(prob, g, "nearest-mask")
    assert near.dtype == np.uint8 and near.shape == (rows, cols)
    assert np.array_equal(near, P.unletterbox_mask((prob > 0.5).astype(np.uint8), g))
    assert np.array_equal(P.prob_to_mask(prob, g), near)  # default: nearest-mask (older cards)
    bil = P.prob_to_mask(prob, g, "bilinear-probability")
    assert bil.dtype == np.uint8 and set(np.unique(bil)) <= {0, 1}
    assert np.array_equal(bil, (P.unletterbox_prob(prob, g) > 0.5).astype(np.uint8))
    assert np.array_equal(P.prob_to_mask(prob, g, "bilinear-probability", 0.3), (up > 0.3).astype(np.uint8))
    assert np.array_equal(
        P.prob_to_mask(prob, g, "nearest-mask", 0.3), P.unletterbox_mask((prob > 0.3).astype(np.uint8), g)
    )
    assert not np.array_equal(bil, near)  # noise: the two modes really differ
    with pytest.raises(ValueError, match="upsample"):
        P.prob_to_mask(prob, g, "bicubic")


# ------------------------------------------------------------------------------------------------
# SegDataset crops
# ------------------------------------------------------------------------------------------------


def _coord_data(n=3, s=16):
    """Images whose pixel value encodes (y, x) = (v // s, v % s); target channel 0 = y, channel 1 = x."""
    y, x = np.mgrid[0:s, 0:s]
    imgs = np.stack([(y * s + x).astype(np.uint8)] * n)
    tgts = np.stack([np.stack([y, x]).astype(np.uint8)] * n)
    return imgs, tgts


@pytest.mark.parametrize("flip", [False, True])
def test_seg_dataset_crop_same_window(flip):
    imgs, tgts = _coord_data()
    aug = P.Augment(flip_p=1.0, brightness=(1.0, 1.0)) if flip else None
    ds = SegDataset(imgs, tgts, aug, seed=3, crop=8)
    offsets = set()
    for k in range(60):
        x, t = ds[k % len(ds)]
        assert tuple(x.shape) == (1, 8, 8) and tuple(t.shape) == (2, 8, 8)
        v = np.rint(x[0].numpy() * 255).astype(int)
        ty, tx = t[0].numpy().astype(int), t[1].numpy().astype(int)
        assert np.array_equal(v, ty * 16 + tx)  # image and target come from the same window
        y0, x0 = ty[0, 0], tx[0, 0]
        assert np.array_equal(ty, y0 + np.arange(8)[:, None].repeat(8, 1))  # a contiguous window
        if flip:
            assert np.array_equal(tx, x0 - np.arange(8)[None, :].repeat(8, 0))
            offsets.add((int(y0), 15 - int(x0)))
        else:
            assert np.array_equal(tx, x0 + np.arange(8)[None, :].repeat(8, 0))
            offsets.add((int(y0), int(x0)))
    ys, xs = {o[0] for o in offsets}, {o[1] for o in offsets}
    assert ys <= set(range(9)) and xs <= set(range(9))
    assert len(ys) > 3 and len(xs) > 3  # random windows, not always the same one


@pytest.mark.parametrize("crop", [None, 0, 16, 20])
def test_seg_dataset_no_crop_full_size(crop):
    imgs, tgts = _coord_data()
    x, t = SegDataset(imgs, tgts, None, crop=crop)[1]
    assert tuple(x.shape) == (1, 16, 16) and tuple(t.shape) == (2, 16, 16)
    assert np.array_equal(np.rint(x[0].numpy() * 255).astype(np.uint8), imgs[1])
    assert np.array_equal(t.numpy().astype(np.uint8), tgts[1])


# ------------------------------------------------------------------------------------------------
# check_seg_sizes
# ------------------------------------------------------------------------------------------------


def test_check_seg_sizes():
    ok = [
        TrainConfig(task="segmentation", seg_size=256),
        TrainConfig(task="segmentation", seg_size=384, crop_size=256),
        TrainConfig(task="segmentation", seg_size=64, crop_size=32, filters=[8, 16]),
        TrainConfig(task="segmentation", seg_size=64, crop_size=64, filters=[8, 16]),
        TrainConfig(task="segmentation", seg_size=36, crop_size=12, filters=[4, 8, 16]),
    ]
    for cfg in ok:
        check_seg_sizes(cfg)
    bad = [
        (TrainConfig(task="segmentation", seg_size=100), "--seg-size 100 must be a multiple of 32"),
        (TrainConfig(task="segmentation", seg_size=16), "--seg-size 16 must be a multiple of 32"),
        (TrainConfig(task="segmentation", seg_size=66, filters=[4, 8, 16]), "--seg-size 66 must be a multiple of 4"),
        (TrainConfig(task="segmentation", seg_size=384, crop_size=200), "--crop-size 200 must be a multiple of 32"),
        (
            TrainConfig(task="segmentation", seg_size=64, crop_size=33, filters=[8, 16]),
            "--crop-size 33 must be a multiple of 2",
        ),
        (
            TrainConfig(task="segmentation", seg_size=64, crop_size=128, filters=[8, 16]),
            "--crop-size 128 is larger than the letterbox",
        ),
    ]
    for cfg, msg in bad:
        with pytest.raises(SystemExit) as e:
            check_seg_sizes(cfg)
        assert msg in str(e.value), str(e.value)


def test_train_refuses_bad_sizes(tmp_path, spider_dir):
    base = [
        "train",
        *flags(task="seg", view="sagittal", data=spider_dir),
        *TRAIN_TINY,
        "--filters",
        "8-16",
        "--quiet",
    ]
    with pytest.raises(SystemExit, match="--crop-size 96 is larger"):
        main([*base, "--out", str(tmp_path / "a"), "--seg-size", "64", "--crop-size", "96"])
    with pytest.raises(SystemExit, match="--seg-size 63 must be a multiple of 2"):
        main([*base, "--out", str(tmp_path / "b"), "--seg-size", "63"])
    assert not os.path.isfile(tmp_path / "a" / "checkpoint.pt") and not os.path.isfile(tmp_path / "b" / "checkpoint.pt")


# ------------------------------------------------------------------------------------------------
# cosine-time LR schedule
# ------------------------------------------------------------------------------------------------


def test_cosine_factor_ends_at_floor():
    assert cosine_factor(0.0, 30.0) == pytest.approx(1.0)
    assert cosine_factor(15.0, 30.0) == pytest.approx(0.51)
    assert cosine_factor(30.0, 30.0) == pytest.approx(COSINE_FLOOR)
    assert cosine_factor(min(45.0, 30.0), 30.0) == pytest.approx(COSINE_FLOOR) == cosine_factor(45.0, 30.0)
    vals = [cosine_factor(t, 30.0) for t in np.linspace(0, 30, 31)]
    assert all(a > b for a, b in zip(vals, vals[1:]))


def test_cosine_time_needs_time_limit(tmp_path, spider_dir):
    with pytest.raises(SystemExit, match="cosine-time needs --time-limit"):
        main(
            [
                "train",
                *flags(task="seg", view="sagittal", data=spider_dir, out=str(tmp_path / "r")),
                *TRAIN_TINY,
                "--lr-schedule",
                "cosine-time",
                *SMALL,
            ]
        )


def test_cosine_time_runs(tmp_path, spider_dir):
    run = str(tmp_path / "r")
    args = [
        "train",
        *flags(task="seg", view="sagittal", data=spider_dir, out=run, epochs=2, max_steps=3, batch_size=4),
    ]
    assert (
        main(
            [
                *args,
                *flags(optimizer="adam", lr="1e-3"),
                "--no-eval-train",
                *flags(lr_schedule="cosine-time", time_limit=600),
                *SMALL,
            ]
        )
        == 0
    )
    ck = load_checkpoint(run)
    assert ck["config"]["lr_schedule"] == "cosine-time" and ck["config"]["time_limit"] == 600
    h = json.load(open(os.path.join(run, "history.json")))
    assert h and all(COSINE_FLOOR * 1e-3 <= row["lr"] < 1e-3 for row in h)
    assert not any(row.get("stopped") for row in h)


def test_cosine_time_follows_one_clock_over_all_epochs(tmp_path, spider_dir, monkeypatch):
    # a fake clock for the engine: every time.time() call moves it on by one second; the LR must keep falling
    # from epoch to epoch (the cosine runs over the whole --time-limit, it does not restart with each epoch)
    clock = {"t": 1000.0}

    def fake_time():
        clock["t"] += 1.0
        return clock["t"]

    for mod in (engine, loop, checkpoints):  # train() and write_run() (seconds); the loop (schedule, budget)
        monkeypatch.setattr(mod, "time", types.SimpleNamespace(time=fake_time))
    cfg = TrainConfig(
        task="segmentation",
        view="sagittal",
        data=[spider_dir],
        out=str(tmp_path / "r"),
        epochs=4,
        batch_size=8,
        optimizer="adam",
        lr=1e-3,
        seg_size=32,
        filters=[4, 8],
        lr_schedule="cosine-time",
        time_limit=400.0,
        patience=100,
        eval_train=False,
        progress=False,
        plots=False,
    )
    h = train(cfg)["history"]
    lrs = [row["lr"] for row in h]
    assert len(lrs) == 4
    assert all(a > b for a, b in zip(lrs, lrs[1:])), lrs
    assert lrs[-1] > COSINE_FLOOR * 1e-3


# ------------------------------------------------------------------------------------------------
# End to end: train with crops and smooth masks, export, run; pack
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smooth_run(tmp_path_factory, spider_dir):
    root = tmp_path_factory.mktemp("segscale")
    run = str(root / "run")
    assert (
        main(
            [
                "train",
                *flags(task="seg", view="sagittal", data=spider_dir, out=run),
                *TRAIN_TINY,
                "--crop-size",
                "32",
                "--smooth-masks",
                *SMALL,
            ]
        )
        == 0
    )
    model_dir = str(root / "sag-seg-unet")
    export(run, model_dir, name="sag-seg-unet")
    return run, model_dir


def test_smooth_crop_run_card(smooth_run):
    run, model_dir = smooth_run
    ck = load_checkpoint(run)
    assert ck["upsample"] == "bilinear-probability"
    assert ck["config"]["crop_size"] == 32 and ck["config"]["smooth_masks"] is True
    assert ck["arch_kwargs"]["input_size"] == 64
    card = json.load(open(os.path.join(model_dir, "model.json")))
    assert card["input"]["shape"] == [None, 1, 64, 64]
    assert card["output"]["upsample"] == "bilinear-probability" and card["output"]["threshold"] == 0.5
    pre = card["preprocessing"]
    assert pre["letterbox"]["size"] == [64, 64]
    assert pre["training_crops"]["size"] == [32, 32]
    assert "bilinear" in pre["postprocessing"] and "probabilit" in pre["postprocessing"]
    assert "0.5" in pre["letterbox"]["interpolation"]
    assert card["export_check"]["max_abs_diff"] < 1e-4


def test_smooth_run_segments_with_bilinear_probabilities(smooth_run):
    run, model_dir = smooth_run
    onnx_runner, torch_runner = Runner(model_dir), Runner(run)
    assert onnx_runner.kind == "onnx" and torch_runner.kind == "torch"
    assert onnx_runner.upsample == torch_runner.upsample == "bilinear-probability"
    assert onnx_runner.input_size == torch_runner.input_size == 64
    rng = np.random.default_rng(5)
    for shape in ((80, 64), (50, 41), (120, 200)):
        img = (rng.random(shape) * 255).astype(np.uint8)
        m = onnx_runner.segment(img)
        assert m.shape == shape and m.dtype == np.uint8 and set(np.unique(m)) <= {0, 1}
        x, g = P.seg_input(img, 64)
        prob = onnx_runner(x[None])[0, 0]
        assert np.array_equal(m, P.prob_to_mask(prob, g, "bilinear-probability"))
        mt = torch_runner.segment(img)
        assert mt.shape == shape and (m != mt).mean() < 0.01
    # the (untrained) model's probabilities are noisy around 0.5: the upsampling rule shows in the mask
    img = (rng.random((80, 64)) * 255).astype(np.uint8)
    x, g = P.seg_input(img, 64)
    prob = onnx_runner(x[None])[0, 0]
    near = P.prob_to_mask(prob, g, "nearest-mask")
    bil = P.prob_to_mask(prob, g, "bilinear-probability")
    assert not np.array_equal(near, bil)
    assert np.array_equal(onnx_runner.segment(img), bil)
    assert np.array_equal(
        torch_runner.segment(img), P.prob_to_mask(torch_runner(x[None])[0, 0], g, "bilinear-probability")
    )


def test_old_checkpoint_without_upsample_is_nearest(tmp_path, smooth_run):
    import torch

    run, _ = smooth_run
    ck = load_checkpoint(run)
    del ck["upsample"]
    old = tmp_path / "old"
    old.mkdir()
    torch.save(ck, old / "checkpoint.pt")
    r = Runner(str(old))
    assert r.upsample == "nearest-mask"
    img = (np.random.default_rng(2).random((80, 64)) * 255).astype(np.uint8)
    x, g = P.seg_input(img, 64)
    assert np.array_equal(r.segment(img), P.prob_to_mask(r(x[None])[0, 0], g, "nearest-mask"))


def test_run_without_smooth_masks_is_nearest(tmp_path, spider_dir):
    run = str(tmp_path / "run")
    assert (
        main(["train", "--task", "seg", "--view", "sagittal", "--data", spider_dir, "--out", run, *TRAIN_TINY, *SMALL])
        == 0
    )
    ck = load_checkpoint(run)
    assert ck["upsample"] == "nearest-mask" and ck["config"]["smooth_masks"] is False
    assert "training_crops" not in ck["preprocessing"]
    assert Runner(run).upsample == "nearest-mask"
    card = export(run, str(tmp_path / "m"), name="sag-seg-unet", check=False)
    assert card["output"]["upsample"] == "nearest-mask"
    saved = json.load(open(tmp_path / "m" / "model.json"))
    assert saved["output"]["upsample"] == "nearest-mask" and "training_crops" not in saved["preprocessing"]
    assert "nearest" in saved["preprocessing"]["postprocessing"]
    assert Runner(str(tmp_path / "m")).upsample == "nearest-mask"


def test_pack_smooth_masks_and_train_from_it(tmp_path, spider_dir):
    npz = str(tmp_path / "p.npz")
    assert main(["pack", *flags(task="seg", view="sagittal", data=spider_dir, out=npz), "--smooth-masks", *SMALL]) == 0
    meta, _, parts = load_packed(npz)
    assert meta["smooth_masks"] is True and meta["seg_size"] == 64
    # the packed targets are the smooth letterboxes of the masks
    recs = {r.sample_id: r for r in load_records(spider_dir, "segmentation", "sagittal")}
    for i, sid in enumerate(parts["val"]["ids"]):
        assert np.array_equal(parts["val"]["targets"][i, 0], P.letterbox_mask_smooth(recs[sid].disc_mask(), 64)[0])
    plain = str(tmp_path / "plain.npz")
    assert main(["pack", "--task", "seg", "--view", "sagittal", "--data", spider_dir, "--out", plain, *SMALL]) == 0
    assert load_packed(plain)[0]["smooth_masks"] is False
    # training from the .npz keeps smooth masks (no --smooth-masks needed), with crops of its letterbox
    run = str(tmp_path / "run")
    assert (
        main(
            [
                "train",
                *flags(task="seg", view="sagittal", data=npz, out=run),
                *TRAIN_TINY,
                *flags(crop_size=32, filters="8-16"),
                "--quiet",
            ]
        )
        == 0
    )
    ck = load_checkpoint(run)
    assert ck["upsample"] == "bilinear-probability" and ck["config"]["smooth_masks"] is True
    assert ck["arch_kwargs"]["input_size"] == 64
    assert ck["preprocessing"]["training_crops"]["size"] == [32, 32]
    assert Runner(run).upsample == "bilinear-probability"


def test_runner_uses_the_card_threshold(tmp_path, smooth_run):
    """Runner.segment thresholds at the card's output.threshold, as the TypeScript pipeline does (segmentBatch)."""
    import shutil

    _, model_dir = smooth_run
    lowered = tmp_path / "lowered"
    shutil.copytree(model_dir, lowered)
    card = json.loads((lowered / "model.json").read_text())
    card["output"]["threshold"] = 0.45
    (lowered / "model.json").write_text(json.dumps(card))
    r = Runner(str(lowered))
    assert r.threshold == 0.45 and Runner(model_dir).threshold == 0.5
    img = (np.random.default_rng(9).random((80, 64)) * 255).astype(np.uint8)
    x, g = P.seg_input(img, 64)
    prob = r(x[None])[0, 0]
    low = P.prob_to_mask(prob, g, "bilinear-probability", 0.45)
    assert np.array_equal(r.segment(img), low)
    # the untrained model's probabilities sit around 0.5: the two thresholds give different masks
    assert not np.array_equal(low, Runner(model_dir).segment(img))
