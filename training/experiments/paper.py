"""Experiments built on :func:`training.engine.train` (``python -m training compare|crossval|gridsearch|retrain-all``):
compare (the paper's eight CNNs on one split, Table VII-like), crossval (k-fold by patient, Table IV-like),
gridsearch (the paper's ranges) and retrain-all (the four shipped models). Formerly ``training/experiments.py``;
:mod:`training.experiments` re-exports every name."""

from __future__ import annotations

import itertools
import json
import os
import random
from dataclasses import replace

import numpy as np

from training import report as R
from training import splits as S
from training.datasets import classes_for, patient_strata
from training.engine import TrainConfig, load_all, make_split, prepare, train
from training.metrics import classification_metrics
from training.models import CLASSIFIERS, DISPLAY
from training.models.unet import PAPER_FILTERS as PAPER_UNET_FILTERS
from training.models.unet import unet_divisor

# --------------------------------------------------------------------------------------------------
# Shared preparation (crops/arrays made once, reused by every model)
# --------------------------------------------------------------------------------------------------


def _prepared(cfg: TrainConfig, split: dict | None = None):
    cfg = cfg.resolved()
    records = load_all(cfg)
    split = split or make_split(cfg, records)
    return records, split, prepare(cfg, records, split)


def _score(m: dict | None, task: str) -> float:
    if not m:
        return float("nan")
    return m["dice"] if task == "segmentation" else m["balanced_accuracy"]


def _fmt(v) -> str:
    return "-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"


# --------------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------------


def compare(
    base: TrainConfig, out: str, archs: list[str] | None = None, transfer: dict[str, str] | None = None
) -> dict:
    """Train every architecture on the same patient split; Table VII-like markdown of test results."""
    base = replace(base, task="classification")
    os.makedirs(out, exist_ok=True)
    records, split, parts = _prepared(base)
    split_path = S.write_split(split, os.path.join(out, "split.json"))
    archs = list(archs or CLASSIFIERS)
    runs = [(a, None) for a in archs] + [(a, w) for a, w in (transfer or {}).items()]
    rows = []
    classes = list(classes_for(base.view, base.drop_bulge))
    for arch, weights in runs:
        cfg = replace(base, arch=arch, out=os.path.join(out, arch), split=split_path, pretrained=weights)
        res = train_prepared(cfg, records, split, parts)
        m = res["metrics"].get("test") or res["metrics"].get("val")
        with open(os.path.join(cfg.out, "metrics.json")) as f:
            params = json.load(f)["params"]
        rows.append({"arch": arch, "name": DISPLAY.get(arch, arch), "metrics": m, "params": params})
    lines = [
        f"# Comparison of CNNs ({base.view}, {'test' if parts['test']['crops'].size else 'validation'} part, same "
        "patient split)",
        "",
        "Per-class values are class accuracy (= recall), as in the paper's Tables IV and VII.",
        "",
        "| model | " + " | ".join(classes) + " | class average | accuracy | macro F1 | macro ROC AUC | parameters |",
        "| --- |" + " --- |" * (len(classes) + 5),
    ]
    for r in rows:
        m = r["metrics"]
        if not m:
            continue
        rec = [m["per_class"][c]["recall"] if m["per_class"][c]["support"] else None for c in classes]
        lines.append(
            f"| {r['name']} | "
            + " | ".join(_fmt(v) for v in rec)
            + f" | {_fmt(m['balanced_accuracy'])} | {_fmt(m['accuracy'])} | {_fmt(m['macro']['f1'])} | "
            f"{_fmt(m['macro'].get('roc_auc'))} | {r['params']['total']:,} |"
        )
    md = "\n".join(lines) + "\n"
    with open(os.path.join(out, "compare.md"), "w") as f:
        f.write(md)
    R.write_json({"view": base.view, "classes": classes, "rows": rows}, os.path.join(out, "compare.json"))
    return {"markdown": md, "rows": rows}


def train_prepared(cfg: TrainConfig, records, split, parts) -> dict:
    return train(cfg, (records, split, parts))


# --------------------------------------------------------------------------------------------------
# crossval
# --------------------------------------------------------------------------------------------------


def crossval(base: TrainConfig, out: str, folds: int = 10) -> dict:
    cfg0 = base.resolved()
    os.makedirs(out, exist_ok=True)
    records = load_all(cfg0)
    strata = patient_strata(records) if cfg0.task == "classification" else None
    cv = S.kfold_patients([r.patient_id for r in records], folds, cfg0.seed, strata)
    S.write_split(cv, os.path.join(out, "folds.json"))
    results = []
    for k in range(folds):
        split = S.fold_split(cv, k)
        S.check_disjoint(split)
        parts = prepare(cfg0, records, split)
        cfg = replace(base, out=os.path.join(out, f"fold-{k}"))
        res = train_prepared(cfg, records, split, parts)
        results.append(res["metrics"].get("test"))
    seg = cfg0.task == "segmentation"
    keys = ("dice", "iou", "accuracy", "precision", "recall") if seg else ("accuracy", "balanced_accuracy")
    summary: dict = {"folds": folds, "task": cfg0.task, "view": cfg0.view, "arch": cfg0.arch}
    ok = [m for m in results if m]
    for key in keys:
        vals = [m[key] for m in ok]
        summary[key] = {"mean": float(np.mean(vals)) if vals else None, "std": float(np.std(vals)) if vals else None}
    lines = [
        f"# {folds}-fold cross-validation by patient: {DISPLAY.get(cfg0.arch, cfg0.arch)} ({cfg0.view} {cfg0.task})",
        "",
    ]
    if not seg:
        classes = list(classes_for(cfg0.view, cfg0.drop_bulge))
        summary["macro_f1"] = {"mean": float(np.mean([m["macro"]["f1"] for m in ok])) if ok else None}
        per = {}
        for c in classes:
            vals = [m["per_class"][c]["recall"] for m in ok if m["per_class"][c]["support"]]
            per[c] = {
                "mean": float(np.mean(vals)) if vals else None,
                "std": float(np.std(vals)) if vals else None,
                "folds_with_class": len(vals),
            }
        summary["per_class_recall"] = per
        lines += [
            "Class accuracy (= recall) on each fold's test part, mean over folds (Table IV-like).",
            "",
            "| " + " | ".join(classes) + " | class average | accuracy |",
            "|" + " --- |" * (len(classes) + 2),
        ]
        lines.append(
            "| "
            + " | ".join(_fmt(per[c]["mean"]) for c in classes)
            + f" | {_fmt(summary['balanced_accuracy']['mean'])} | {_fmt(summary['accuracy']['mean'])} |"
        )
        pooled = _pooled_cls(out, folds, classes)
        if pooled:
            summary["pooled"] = pooled
            lines += [
                "",
                "Every fold's test predictions together (each image scored once, by the fold that held its patient "
                "out):",
                "",
            ]
            lines += [
                "| data | images | " + " | ".join(f"{c} recall" for c in classes) + " | balanced accuracy | accuracy |",
                "|" + " --- |" * (len(classes) + 4),
            ]
            for source, m in pooled.items():
                lines.append(
                    f"| {source} | {m['n']} | "
                    + " | ".join(
                        _fmt(m["per_class"][c]["recall"]) if m["per_class"][c]["support"] else "-" for c in classes
                    )
                    + f" | {_fmt(m['balanced_accuracy'])} | {_fmt(m['accuracy'])} |"
                )
    else:
        lines += ["| metric | mean | std |", "| --- | --- | --- |"] + [
            f"| {k} | {_fmt(summary[k]['mean'])} | {_fmt(summary[k]['std'])} |" for k in keys
        ]
    md = "\n".join(lines) + "\n"
    with open(os.path.join(out, "crossval.md"), "w") as f:
        f.write(md)
    R.write_json({"summary": summary, "folds": results}, os.path.join(out, "crossval.json"))
    return {"summary": summary, "markdown": md}


def _pooled_cls(out: str, folds: int, classes: list[str]) -> dict:
    """Classification metrics over every fold's test predictions at once (``fold-k/predictions_test.json``),
    for all images (``all``) and, where the ids name their data set (``spider:...``), for each data set."""
    ids, labels, probs = [], [], []
    for k in range(folds):
        path = os.path.join(out, f"fold-{k}", "predictions_test.json")
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            p = json.load(f)
        ids += p["ids"]
        labels += p["labels"]
        probs += p["probs"]
    if not ids:
        return {}
    groups = {"all": list(range(len(ids)))}
    sources = sorted({i.split(":", 1)[0] for i in ids if ":" in i})
    if len(sources) > 1 or (sources and any(":" not in i for i in ids)):
        for src in sources:
            groups[src] = [j for j, i in enumerate(ids) if i.startswith(src + ":")]
    res = {}
    for name, idx in groups.items():
        y = np.asarray(labels)[idx]
        pr = np.asarray(probs, dtype=np.float64)[idx]
        res[name] = classification_metrics(y, pr.argmax(1), classes, pr)
    return res


# --------------------------------------------------------------------------------------------------
# gridsearch
# --------------------------------------------------------------------------------------------------

PAPER_LRS = [round(k * 10.0**-e, 6) for e in (1, 2, 3) for k in range(1, 10)]
PAPER_GRID = {
    "segmentation": {
        "batch_size": [6, 8, 10, 12],
        "lr": PAPER_LRS,
        "filters": [[8, 16, 32, 64], [16, 32, 64, 128], [8, 16, 32, 64, 128, 256]],
        "dropout": [0.1, 0.2, 0.3, 0.4, 0.5],
    },
    "classification": {
        "batch_size": [6, 8, 10, 12],
        "lr": [1e-3, 1e-4, 1e-5],
        "filters": [None],
        "dropout": [0.1, 0.2, 0.3, 0.4, 0.5],
    },
}


def gridsearch(base: TrainConfig, out: str, grid: dict | None = None, max_trials: int | None = None) -> dict:
    """Train one model per combination on the same split; rank by validation Dice (segmentation)
    or validation balanced accuracy (classification)."""
    cfg0 = base.resolved()
    grid = {**PAPER_GRID[cfg0.task], **(grid or {})}
    os.makedirs(out, exist_ok=True)
    records, split, parts = _prepared(base)
    split_path = S.write_split(split, os.path.join(out, "split.json"))
    combos = list(itertools.product(grid["batch_size"], grid["lr"], grid["filters"], grid["dropout"]))
    if max_trials is not None and max_trials < len(combos):
        combos = random.Random(cfg0.seed).sample(combos, max_trials)
    trials = []
    for i, (bs, lr, filters, dropout) in enumerate(combos):
        cfg = replace(
            base,
            batch_size=bs,
            lr=lr,
            filters=filters,
            dropout=dropout,
            out=os.path.join(out, f"trial-{i:03d}"),
            split=split_path,
            plots=False,
        )
        res = train_prepared(cfg, records, split, parts)
        val = res["metrics"].get("val")
        trials.append(
            {
                "trial": i,
                "batch_size": bs,
                "lr": lr,
                "filters": filters,
                "dropout": dropout,
                "score": _score(val, cfg0.task),
                "val_loss": val and val.get("loss"),
                "epochs": len(res["history"]),
                "run": cfg.out,
            }
        )
    trials.sort(
        key=lambda t: (
            -(t["score"] if t["score"] == t["score"] else -1),
            t["val_loss"] if t["val_loss"] is not None else float("inf"),
        )
    )
    metric = "val Dice" if cfg0.task == "segmentation" else "val balanced accuracy"
    lines = [
        f"# Grid search ({cfg0.task}, {cfg0.view}, {DISPLAY.get(cfg0.arch, cfg0.arch)}): {len(trials)} of "
        f"{len(list(itertools.product(*[grid[k] for k in ('batch_size', 'lr', 'filters', 'dropout')])))} "
        "combinations",
        "",
        f"| rank | batch size | LR | filters | dropout | {metric} | val loss | epochs |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for rank, t in enumerate(trials, 1):
        lines.append(
            f"| {rank} | {t['batch_size']} | {t['lr']:g} | {t['filters'] or 'default'} | {t['dropout']} | "
            f"{_fmt(t['score'])} | {_fmt(t['val_loss'])} | {t['epochs']} |"
        )
    md = "\n".join(lines) + "\n"
    with open(os.path.join(out, "gridsearch.md"), "w") as f:
        f.write(md)
    R.write_json(
        {"grid": grid, "trials": trials, "best": trials[0] if trials else None}, os.path.join(out, "gridsearch.json")
    )
    return {"trials": trials, "best": trials[0] if trials else None, "markdown": md}


# --------------------------------------------------------------------------------------------------
# retrain-all
# --------------------------------------------------------------------------------------------------

SHIPPED = {
    "sag-seg-unet": ("segmentation", "sagittal", "unet"),
    "ax-seg-unet": ("segmentation", "axial", "unet"),
    "sag-cls-discnet": ("classification", "sagittal", "discnet"),
    "ax-cls-discnet": ("classification", "axial", "discnet"),
}


SAG_SEG_SCALE = 1.5  # sag-seg-unet's letterbox over its training crops (0.3.0: 384 over 256)


def retrain_all(
    spider: str | None,
    phantom: str | None,
    models_dir: str = "models",
    runs_dir: str = "training/runs/retrain",
    version: str = "0.1.0",
    seg_epochs: int | None = None,
    cls_epochs: int | None = None,
    max_steps: int | None = None,
    seed: int = 0,
    only: list[str] | None = None,
    extra: dict | None = None,
    progress: bool = True,
) -> dict:
    """Retrain the four shipped models from scratch and export them to ``models_dir``:

    sag-seg-unet: SPIDER t2_space masks + phantom sagittal (letterbox SAG_SEG_SCALE x --seg-size, trained on
    --seg-size crops, as 0.3.0); ax-seg-unet: phantom axial;
    sag-cls-discnet: SPIDER grades (crops from sag-seg-unet's masks) + phantom sagittal (ground
    truth masks); ax-cls-discnet: phantom axial. Parts whose data is missing are skipped.
    """
    from training.export import export

    extra = extra or {}
    done = {}
    data = {
        "sag-seg-unet": [d for d in (spider, phantom) if d],
        "ax-seg-unet": [d for d in (phantom,) if d],
        "sag-cls-discnet": [d for d in (spider, phantom) if d],
        "ax-cls-discnet": [d for d in (phantom,) if d],
    }
    for name, (task, view, arch) in SHIPPED.items():
        if only and name not in only:
            continue
        if not data[name]:
            done[name] = {"skipped": "no data (needs --phantom)" if not phantom else "no data"}
            continue
        cfg = TrainConfig(
            task=task,
            view=view,
            arch=arch,
            data=data[name],
            out=os.path.join(runs_dir, name),
            seed=seed,
            max_steps=max_steps,
            epochs=seg_epochs if task == "segmentation" else cls_epochs,
            progress=progress,
            name=name,
            class_weights="balanced" if task == "classification" else "none",
            **extra.get(task, {}),
        )
        if name == "sag-seg-unet":
            # the sag-seg-unet 0.3.0 recipe: a letterbox 1.5 x --seg-size (384 for 256; a multiple of the U-Net's
            # divisor) learnt from --seg-size crops, smooth masks, the extra augmentation (docs/BENCHMARKS.md)
            div = unet_divisor(cfg.filters or PAPER_UNET_FILTERS)
            cfg = replace(
                cfg,
                seg_size=max(div, round(cfg.seg_size * SAG_SEG_SCALE / div) * div),
                crop_size=cfg.seg_size,
                smooth_masks=True,
                augment_extra=True,
            )
        if name == "sag-cls-discnet" and spider:
            seg_run = os.path.join(runs_dir, "sag-seg-unet")
            seg_model = os.path.join(models_dir, "sag-seg-unet")
            cfg = replace(
                cfg, seg_model=seg_run if os.path.isfile(os.path.join(seg_run, "checkpoint.pt")) else seg_model
            )
        res = train(cfg)
        card = export(res["run"], os.path.join(models_dir, name), name=name, version=version)
        done[name] = {
            "run": res["run"],
            "model": os.path.join(models_dir, name),
            "metrics": card["metrics"],
            "export_check": card.get("export_check"),
        }
    R.write_json(done, os.path.join(runs_dir, "retrain-summary.json"))
    return done
