"""Data preparation for a training run: the records of every ``--data`` folder (:func:`load_all`), the patient-level
split (:func:`make_split`) and the arrays per part (:func:`prepare`): letterboxed images + targets for segmentation,
64x64 CLAHE crops + labels for classification. ``python -m training pack`` (:mod:`training.pack`) writes exactly
these arrays to a file."""

from __future__ import annotations

from training import splits as S
from training.config import TrainConfig
from training.data import build_crops, seg_arrays
from training.datasets import fixed_parts, load_records, patient_strata
from training.inference import Runner


def load_all(cfg: TrainConfig) -> list:
    records = []
    for d in cfg.data:
        records += load_records(d, cfg.task, cfg.view, both=cfg.both, drop_bulge=cfg.drop_bulge)
    if not records:
        raise SystemExit(f"no {cfg.task} records for view {cfg.view} in {cfg.data}")
    return records


def make_split(cfg: TrainConfig, records) -> dict:
    if cfg.split:
        split = S.read_split(cfg.split)
    else:
        # data sets that fix their own split (annotated axial slices: labels.csv's test slices only ever go to
        # test) keep it; every other patient is split as usual
        fixed = fixed_parts(records, cfg.seed)
        free = [r for r in records if r.patient_id not in fixed]
        strata = (
            patient_strata(free)
            if cfg.task == "classification"
            else {p: r.source for r in free for p in [r.patient_id]}
        )
        split = S.split_patients([r.patient_id for r in free], seed=cfg.seed, strata=strata)
        if fixed:
            for p, part in fixed.items():
                split[part].append(p)
            for part in ("train", "val", "test"):
                split[part] = sorted(split[part])
            sources = sorted({p.split(":", 1)[0] for p in fixed})
            split["method"] = (
                (f"{split['method']} + " if free else "")
                + f"fixed by the data set ({', '.join(sources)}: its test part; seeded validation slices from its "
                "train part)"
            )
    S.check_disjoint(split)
    return split


def prepare(cfg: TrainConfig, records, split: dict) -> dict:
    """Arrays per part: {'train': ..., 'val': ..., 'test': ...}."""
    parts = {}
    predictor = None
    if cfg.task == "classification" and cfg.seg_model and any(r.mask_path is None for r in records):
        predictor = Runner(cfg.seg_model, cfg.device).segment
    for name in ("train", "val", "test"):
        recs = S.select(records, split.get(name, []))
        if cfg.task == "segmentation":
            imgs, tgts = seg_arrays(
                recs, cfg.seg_size, cfg.seg_levels, cfg.progress, desc=f"load {name}", smooth=cfg.smooth_masks
            )
            parts[name] = {
                "images": imgs,
                "targets": tgts,
                "ids": [r.sample_id for r in recs],
                "patients": [r.patient_id for r in recs],
            }
        else:
            parts[name] = build_crops(recs, cfg.view, predictor, cfg.progress, desc=f"crops {name}")
    return parts
