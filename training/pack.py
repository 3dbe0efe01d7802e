"""Packed training data: the exact arrays a training run consumes, in one compressed ``.npz``.

``python -m training pack --task T --view V --data DIR [--data DIR2] [--split SPLIT] [--extra-train DIR]
--out FILE.npz`` runs the same loading, patient-level split and preprocessing as ``train`` (letterboxed
uint8 images + targets for segmentation; 64x64 CLAHE crops + labels for classification, cropped with the
ground-truth mask or ``--seg-model``) and writes them per part, so that ``train --data FILE.npz`` can train
on a machine that has neither the data folders nor a DICOM reader (for example a GPU machine). Nothing in
the preprocessing changes: the arrays are those ``training.prepare.prepare`` would have built.

``--extra-train DIR`` adds every record of another data folder (say another phantom seed) to the
**training** part only; its patient ids get ``@<tag>`` appended (tag = the phantom seed, else the folder
name) so that they cannot collide with the patients of the main data, whose val/test parts stay as the
split says. ``--extra-max N`` keeps a seeded random subset of N extra records.

``--add-predicted PARTS`` (classification, e.g. ``train,val``): for the records of those parts, a second
crop is added, cropped with the disc mask that ``--seg-model`` predicts instead of the ground-truth mask,
which is what the pipeline does at inference (ids get ``#pred``, mask_source ``predicted``). Parts not
named keep ground-truth crops only, so a test part stays comparable with a model trained without them.

Images (segmentation images, classifier crops) are stored losslessly as PNG, one per image
(``<part>_png`` bytes + ``<part>_png_offsets``): smaller than zlib on noisy MR pixels. Decoding gives
back the same uint8 arrays bit for bit.

File layout: ``meta`` (a JSON string: format, task, view, classes, seg_size, seg_levels, split, training
data credits, per part ids/patients/skipped/mask_source, the packing command) and per part
``<part>_png`` + ``<part>_png_offsets`` (the images or crops) and ``<part>_targets`` (segmentation) or
``<part>_labels`` (classification).
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import replace

import cv2
import numpy as np

from training import splits as S
from training.data import build_crops, seg_classes
from training.datasets import classes_for, credits_for, detect_layout, load_records, phantom
from training.inference import Runner
from training.prepare import load_all, make_split, prepare

PACK_FORMAT = "lumbar-ai-pack/1"
PARTS = ("train", "val", "test")


def encode_png(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, H, W) uint8 -> (concatenated PNG bytes, offsets of length N + 1)."""
    bufs = []
    for im in images:
        ok, b = cv2.imencode(".png", np.ascontiguousarray(im), [cv2.IMWRITE_PNG_COMPRESSION, 9])
        if not ok:
            raise ValueError("PNG encoding failed")
        bufs.append(b.ravel())
    offsets = np.zeros(len(bufs) + 1, np.int64)
    offsets[1:] = np.cumsum([len(b) for b in bufs])
    data = np.concatenate(bufs) if bufs else np.zeros(0, np.uint8)
    return data, offsets


def decode_png(data: np.ndarray, offsets: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros((len(offsets) - 1, *shape), np.uint8)
    for i in range(len(out)):
        out[i] = cv2.imdecode(data[offsets[i] : offsets[i + 1]], cv2.IMREAD_UNCHANGED)
    return out


def is_packed(path: str) -> bool:
    return str(path).endswith(".npz") and os.path.isfile(path)


def _tag(root: str) -> str:
    if detect_layout(root) == "phantom":
        seed = phantom.dataset_info(root).get("seed")
        if seed:
            return str(seed)
    return os.path.basename(os.path.normpath(root))


def _concat(a: dict, b: dict, seg: bool) -> dict:
    out = dict(a)
    keys = ("images", "targets") if seg else ("crops", "labels")
    for k in keys:
        out[k] = np.concatenate([a[k], b[k]]) if len(b[k]) else a[k]
    for k in ("ids", "patients", "skipped", "mask_source"):
        if k in a:
            out[k] = list(a[k]) + list(b.get(k, []))
    return out


def _predicted_crops(cfg, records, predictor) -> dict:
    recs = [replace(r, mask_path=None, sample_id=f"{r.sample_id}#pred") for r in records]
    return build_crops(recs, cfg.view, predictor, cfg.progress, desc="predicted-mask crops")


def pack(
    cfg,
    out: str,
    extra_train: list[str] | None = None,
    extra_max: int | None = None,
    command: str | None = None,
    add_predicted: list[str] | None = None,
) -> dict:
    """Prepare the parts of ``cfg`` (a TrainConfig) exactly as ``train`` would and write them to ``out``."""
    cfg = cfg.resolved()
    seg = cfg.task == "segmentation"
    records = load_all(cfg)
    split = make_split(cfg, records)
    parts = prepare(cfg, records, split)
    add_predicted = [p for p in (add_predicted or []) if p]
    if add_predicted and (seg or not cfg.seg_model):
        raise ValueError("--add-predicted needs a classification task and --seg-model")
    predictor = Runner(cfg.seg_model, cfg.device).segment if add_predicted else None
    for name in add_predicted:
        if name not in PARTS:
            raise ValueError(f"unknown part {name!r}")
        with_mask = [r for r in S.select(records, split.get(name, [])) if r.mask_path is not None]
        parts[name] = _concat(parts[name], _predicted_crops(cfg, with_mask, predictor), seg)
    credits = [credits_for(d) for d in cfg.data]
    extra_info = []
    for root in extra_train or []:
        tag = _tag(root)
        recs = load_records(root, cfg.task, cfg.view, both=cfg.both, drop_bulge=cfg.drop_bulge)
        if extra_max is not None and len(recs) > extra_max:
            recs = sorted(random.Random(cfg.seed).sample(recs, extra_max), key=lambda r: r.sample_id)
        for r in recs:
            r.patient_id = f"{r.patient_id}@{tag}"
            r.sample_id = f"{r.sample_id}@{tag}"
        pats = sorted({r.patient_id for r in recs})
        xsplit = {"train": pats, "val": [], "test": []}
        xparts = prepare(replace(cfg, split=None), recs, xsplit)
        parts["train"] = _concat(parts["train"], xparts["train"], seg)
        if "train" in add_predicted:
            parts["train"] = _concat(
                parts["train"], _predicted_crops(cfg, [r for r in recs if r.mask_path is not None], predictor), seg
            )
        split["train"] = sorted(set(split["train"]) | set(pats))
        credit = credits_for(root)
        credit["role"] = "extra training data (training part only)"
        credits.append(credit)
        extra_info.append({"data": root, "tag": tag, "records": len(recs), "patients": len(pats)})
    if extra_info:
        split["extra_train"] = extra_info
    S.check_disjoint(split)
    classes = seg_classes(cfg.seg_levels) if seg else list(classes_for(cfg.view, cfg.drop_bulge))
    meta = {
        "format": PACK_FORMAT,
        "task": cfg.task,
        "view": cfg.view,
        "classes": classes,
        "seg_size": cfg.seg_size,
        "smooth_masks": cfg.smooth_masks,
        "seg_levels": cfg.seg_levels,
        "both": cfg.both,
        "drop_bulge": cfg.drop_bulge,
        "seed": cfg.seed,
        "data": list(cfg.data),
        "seg_model": cfg.seg_model,
        "add_predicted": add_predicted,
        "image_codec": "png",
        "split": split,
        "training_data": credits,
        "command": command,
        "parts": {
            name: {k: list(parts[name][k]) for k in ("ids", "patients", "skipped", "mask_source") if k in parts[name]}
            for name in PARTS
        },
    }
    arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    for name in PARTS:
        p = parts[name]
        imgs = p["images"] if seg else p["crops"]
        arrays[f"{name}_png"], arrays[f"{name}_png_offsets"] = encode_png(imgs)
        arrays[f"{name}_shape"] = np.asarray(imgs.shape, np.int64)
        if seg:
            arrays[f"{name}_targets"] = np.ascontiguousarray(p["targets"], dtype=np.uint8)
        else:
            arrays[f"{name}_labels"] = np.asarray(p["labels"], dtype=np.int64)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    np.savez_compressed(out, **arrays)
    counts = {name: len(parts[name]["images" if seg else "crops"]) for name in PARTS}
    return {"out": out, "bytes": os.path.getsize(out), "images": counts, "extra_train": extra_info}


def load_packed(path: str) -> tuple[dict, dict, dict]:
    """(meta, split, parts) of a packed file; parts as ``training.prepare.prepare`` returns them."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        if meta.get("format") != PACK_FORMAT:
            raise ValueError(f"{path}: not a {PACK_FORMAT} file")
        seg = meta["task"] == "segmentation"
        parts = {}
        for name in PARTS:
            p = dict(meta["parts"].get(name, {}))
            shape = tuple(int(v) for v in z[f"{name}_shape"])
            imgs = decode_png(z[f"{name}_png"], z[f"{name}_png_offsets"], shape[1:])
            if seg:
                p["images"] = imgs
                p["targets"] = z[f"{name}_targets"]
            else:
                p["crops"] = imgs
                p["labels"] = z[f"{name}_labels"].astype(np.int64)
                p.setdefault("skipped", [])
                p.setdefault("mask_source", ["ground-truth"] * len(p["crops"]))
            p.setdefault("ids", [])
            p.setdefault("patients", [])
            parts[name] = p
    return meta, meta["split"], parts
