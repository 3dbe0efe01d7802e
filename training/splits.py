"""Patient-level splits (paper: 80:10:10 by patient identifier; 10-fold cross-validation).

Images of one patient are correlated, so every split is made over patients and every image of a
patient goes where its patient goes. Splits are seeded and written as JSON beside each run.

Hold-out rule: n_val = n_test = round(n / 10) (at least 1 each when n >= 3). Patients are grouped by
stratum (source and majority class when known); val and test quotas are apportioned over strata by
largest remainder; within a stratum patients are shuffled with ``random.Random(seed)`` and the first
go to test, the next to val, the rest to train.
K-fold rule: strata shuffled and concatenated; patient at position i goes to fold i % k.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterable

SPLIT_VERSION = 1


def _groups(patients: Iterable[str], strata: dict[str, str] | None, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    groups: dict[str, list[str]] = {}
    for p in sorted(set(patients)):
        groups.setdefault((strata or {}).get(p, ""), []).append(p)
    out = []
    for key in sorted(groups):
        g = groups[key]
        rng.shuffle(g)
        out.append(g)
    return out


def _apportion(sizes: list[int], total: int) -> list[int]:
    n = sum(sizes)
    if n == 0 or total <= 0:
        return [0] * len(sizes)
    exact = [s * total / n for s in sizes]
    base = [int(e) for e in exact]
    rest = total - sum(base)
    order = sorted(range(len(sizes)), key=lambda i: (-(exact[i] - base[i]), i))
    for i in order:
        if rest <= 0:
            break
        if base[i] < sizes[i]:
            base[i] += 1
            rest -= 1
    return base


def holdout_counts(n: int, val: float = 0.1, test: float = 0.1) -> tuple[int, int, int]:
    n_val = int(round(n * val))
    n_test = int(round(n * test))
    if n >= 3:
        n_val, n_test = max(1, n_val), max(1, n_test)
    return n - n_val - n_test, n_val, n_test


def split_patients(
    patients: Iterable[str], seed: int = 0, strata: dict[str, str] | None = None, val: float = 0.1, test: float = 0.1
) -> dict:
    """{'train': [...], 'val': [...], 'test': [...], ...} over unique patient ids."""
    groups = _groups(patients, strata, seed)
    n = sum(len(g) for g in groups)
    _, n_val, n_test = holdout_counts(n, val, test)
    sizes = [len(g) for g in groups]
    q_test = _apportion(sizes, n_test)
    q_val = _apportion([s - t for s, t in zip(sizes, q_test)], n_val)
    parts = {"train": [], "val": [], "test": []}
    for g, qt, qv in zip(groups, q_test, q_val):
        parts["test"] += g[:qt]
        parts["val"] += g[qt : qt + qv]
        parts["train"] += g[qt + qv :]
    return {
        "version": SPLIT_VERSION,
        "method": "holdout-80-10-10-by-patient",
        "seed": seed,
        "stratified": bool(strata),
        **{k: sorted(v) for k, v in parts.items()},
    }


def kfold_patients(patients: Iterable[str], k: int = 10, seed: int = 0, strata: dict[str, str] | None = None) -> dict:
    order = [p for g in _groups(patients, strata, seed) for p in g]
    folds = [sorted(order[i::k]) for i in range(k)]
    return {
        "version": SPLIT_VERSION,
        "method": f"{k}-fold-by-patient",
        "seed": seed,
        "stratified": bool(strata),
        "folds": folds,
    }


def fold_split(cv: dict, fold: int) -> dict:
    """Fold ``fold`` is test, the next fold is validation, the rest is training."""
    folds = cv["folds"]
    k = len(folds)
    val_fold = (fold + 1) % k
    train = sorted(p for i, f in enumerate(folds) if i not in (fold, val_fold) for p in f)
    return {
        "version": SPLIT_VERSION,
        "method": f"{cv['method']}/fold-{fold}",
        "seed": cv["seed"],
        "fold": fold,
        "train": train,
        "val": sorted(folds[val_fold]),
        "test": sorted(folds[fold]),
    }


def write_split(split: dict, path: str) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(split, f, indent=1)
    return path


def read_split(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def select(records, patients: Iterable[str]):
    s = set(patients)
    return [r for r in records if r.patient_id in s]


def check_disjoint(split: dict) -> None:
    parts = [set(split.get(k, [])) for k in ("train", "val", "test")]
    for i in range(3):
        for j in range(i + 1, 3):
            both = parts[i] & parts[j]
            if both:
                raise AssertionError(f"patients in two parts: {sorted(both)[:5]}")
