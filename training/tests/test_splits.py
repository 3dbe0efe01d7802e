import json
import os

from training import splits as S
from training.datasets import load_records, patient_strata


def _parts(split):
    return [set(split[k]) for k in ("train", "val", "test")]


def test_holdout_80_10_10_no_overlap_and_seeded(tmp_path):
    patients = [f"p{i}" for i in range(243)]
    sp = S.split_patients(patients, seed=7)
    tr, va, te = _parts(sp)
    assert (len(tr), len(va), len(te)) == (195, 24, 24)  # the paper's 195/24/24
    assert not (tr & va) and not (tr & te) and not (va & te)
    assert tr | va | te == set(patients)
    assert S.split_patients(patients, seed=7) == sp
    assert S.split_patients(patients, seed=8)["test"] != sp["test"]
    path = S.write_split(sp, str(tmp_path / "split.json"))
    assert S.read_split(path) == json.load(open(path))
    S.check_disjoint(sp)


def test_stratified_split_spreads_rare_classes():
    patients = [f"p{i}" for i in range(100)]
    strata = {p: ("rare" if i < 10 else "common") for i, p in enumerate(patients)}
    sp = S.split_patients(patients, seed=0, strata=strata)
    assert len(sp["val"]) == 10 and len(sp["test"]) == 10
    assert sum(strata[p] == "rare" for p in sp["test"]) == 1
    assert sum(strata[p] == "rare" for p in sp["val"]) == 1
    S.check_disjoint(sp)


def test_small_sets_still_get_val_and_test():
    sp = S.split_patients(["a", "b", "c"], seed=0)
    assert all(len(sp[k]) == 1 for k in ("train", "val", "test"))


def test_kfold_partitions_patients():
    patients = [f"p{i}" for i in range(53)]
    cv = S.kfold_patients(patients, 10, seed=3)
    folds = [set(f) for f in cv["folds"]]
    assert sum(len(f) for f in folds) == 53 and set().union(*folds) == set(patients)
    for i in range(10):
        for j in range(i + 1, 10):
            assert not folds[i] & folds[j]
        fs = S.fold_split(cv, i)
        S.check_disjoint(fs)
        assert set(fs["test"]) == folds[i]
        assert set(fs["train"]) | set(fs["val"]) | set(fs["test"]) == set(patients)


def test_records_split_by_patient(phantom_dir, spider_dir, tmp_path):
    recs = load_records(phantom_dir, "classification", "axial") + load_records(spider_dir, "classification", "sagittal")
    sp = S.split_patients([r.patient_id for r in recs], seed=0, strata=patient_strata(recs))
    S.write_split(sp, str(tmp_path / "s.json"))
    seen = {}
    for part in ("train", "val", "test"):
        for r in S.select(recs, sp[part]):
            assert seen.setdefault(r.patient_id, part) == part
    assert os.path.isfile(tmp_path / "s.json")
