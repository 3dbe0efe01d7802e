import os

import numpy as np
import pytest

from training.datasets import (
    AXIAL_CLASSES,
    SAGITTAL_CLASSES,
    credits_for,
    detect_layout,
    load_records,
    mendeley,
    spider,
)
from training.tests.conftest import SPIDER_REAL


def test_phantom_loader(phantom_dir):
    assert detect_layout(phantom_dir) == "phantom"
    seg = load_records(phantom_dir, "segmentation", "sagittal")
    assert len(seg) == 20 and all(r.mask_kind == "phantom" for r in seg)
    lv = seg[0].level_map()
    assert set(np.unique(lv)) == {0, 1, 2, 3, 4, 5, 6}
    assert seg[0].disc_mask().max() == 1
    sag = load_records(phantom_dir, "classification", "sagittal")
    # patient 4 of every 5 has both levels herniated: dropped
    assert {r.patient_id for r in sag}.isdisjoint({"phantom:P0004", "phantom:P0009"})
    by = {r.patient_id: SAGITTAL_CLASSES[r.label] for r in sag}
    assert by["phantom:P0000"] == "healthy" and by["phantom:P0001"] == "L4-L5" and by["phantom:P0002"] == "L5-S1"
    assert by["phantom:P0003"] == "healthy"  # a bulge is not a herniation
    assert len(load_records(phantom_dir, "classification", "sagittal", both="l5s1")) == 20
    ax = load_records(phantom_dir, "classification", "axial")
    assert {AXIAL_CLASSES[r.label] for r in ax} == set(AXIAL_CLASSES)
    assert all(r.meta["level"] in ("L4-L5", "L5-S1") for r in ax)
    ax4 = load_records(phantom_dir, "classification", "axial", drop_bulge=True)
    assert len(ax4) == 16
    assert credits_for(phantom_dir)["kind"] == "synthetic"


def test_spider_loader(spider_dir):
    assert detect_layout(spider_dir) == "spider"
    seg = load_records(spider_dir, "segmentation", "sagittal")
    assert len(seg) == 16
    r = seg[0]
    assert r.patient_id == "spider:100" and r.mask_kind == "spider"
    disc = r.disc_mask()
    assert disc.shape == r.image().shape and set(np.unique(disc)) == {0, 1}
    lv = r.level_map()  # 5 discs: lowest = L5-S1 (6) ... highest = L1-L2 (2)
    assert set(np.unique(lv)) == {0, 2, 3, 4, 5, 6}
    rows = np.where(lv == 6)[0].mean(), np.where(lv == 2)[0].mean()
    assert rows[0] > rows[1]
    cls = load_records(spider_dir, "classification", "sagittal")
    labels = {x.patient_id: SAGITTAL_CLASSES[x.label] for x in cls}
    # pattern by patient i % 4: (IVD1, IVD2) = (0,0) healthy, (1,0) L5-S1, (0,1) L4-L5, (1,1) dropped
    assert labels["spider:100"] == "healthy" and labels["spider:101"] == "L5-S1" and labels["spider:102"] == "L4-L5"
    assert "spider:103" not in labels
    assert all(x.mask_path is None for x in cls)
    assert sum(x.patient_id == "spider:100" for x in cls) == 2  # _t2 and _t2_SPACE
    assert load_records(spider_dir, "segmentation", "axial") == []
    assert credits_for(spider_dir)["licence"] == "CC BY 4.0"
    assert spider.patient_of("107_t2_SPACE_slice53.png") == "107"


def test_mendeley_loader(mendeley_dir):
    assert detect_layout(mendeley_dir) == "mendeley"
    recs = load_records(mendeley_dir, "segmentation", "axial")
    assert len(recs) == 6
    r = [x for x in recs if x.sample_id == "mendeley:0001_D4"][0]
    # 6 TRA slices by InstanceNumber, blocks of 2 per disc; D4 -> block 1 -> middle = instance 4
    import pydicom

    assert int(pydicom.dcmread(r.image_path).InstanceNumber) == 4
    img = r.image()
    assert img.dtype == np.uint8 and img.shape == (32, 32) and img.max() == 255
    disc = r.disc_mask()
    assert disc.sum() == (2 * 32 // 3 - 32 // 3) * (3 * 32 // 4 - 32 // 4)  # 50 = disc only
    assert r.level_map().max() == 5  # D4 = L4-L5
    assert load_records(mendeley_dir, "segmentation", "sagittal") == []


def test_mendeley_slice_map(tmp_path):
    from training.tests import fakedata

    root = fakedata.make_mendeley(str(tmp_path / "m"), patients=("0007",))
    tra = mendeley.tra_slices(root, "0007")
    with open(os.path.join(root, "Label_Images", "slices.csv"), "w") as f:
        f.write("patient,disc,file\n0007,3," + os.path.relpath(tra[5], root) + "\n")
    recs = {r.sample_id: r for r in load_records(root, "segmentation", "axial")}
    assert recs["mendeley:0007_D3"].image_path == tra[5] and recs["mendeley:0007_D3"].meta["slice_rule"] == "slices.csv"
    assert recs["mendeley:0007_D5"].meta["slice_rule"] == "middle-of-block"


@pytest.mark.skipif(not os.path.isdir(SPIDER_REAL), reason="real SPIDER data not available")
def test_real_spider_smoke():
    seg = load_records(SPIDER_REAL, "segmentation", "sagittal")
    assert len(seg) > 100
    r = seg[0]
    assert r.image().shape == r.disc_mask().shape
    cls = load_records(SPIDER_REAL, "classification", "sagittal")
    assert len(cls) > 100 and {x.label for x in cls} == {0, 1, 2}


def test_seg_targets_with_levels(phantom_dir, spider_dir, mendeley_dir):
    from training.data import seg_arrays, seg_classes

    assert seg_classes(True) == ["disc", "T12-L1", "L1-L2", "L2-L3", "L3-L4", "L4-L5", "L5-S1"]
    recs = (
        load_records(phantom_dir, "segmentation", "sagittal")[:2]
        + load_records(spider_dir, "segmentation", "sagittal")[:2]
    )
    imgs, tg = seg_arrays(recs, 32, levels=True, progress=False)
    assert imgs.shape == (4, 32, 32) and tg.shape == (4, 7, 32, 32)
    assert (tg[:, 1:].max(axis=1) <= tg[:, 0]).all()  # every level pixel is a disc pixel
    assert tg[:, 6].reshape(4, -1).max(1).tolist() == [1, 1, 1, 1]  # L5-S1 in every image
    assert tg[2:, 1].max() == 0  # fake SPIDER has 5 discs: L1-L2..L5-S1
    m = load_records(mendeley_dir, "segmentation", "axial")[:1]  # D3 = L3-L4
    _, tm = seg_arrays(m, 32, levels=True, progress=False)
    assert tm[0, 4].max() == 1 and tm[0, 5:].max() == 0
