"""Experiments: the paper's (:mod:`training.experiments.paper`, run by ``python -m training compare|crossval|
gridsearch|retrain-all``, re-exported here) and the one-off studies behind figures in the docs, one module each, run as
``training/.venv/bin/python -m training.experiments.<name> ...`` (README.md in this folder: the question, the command,
the result and the commit of each)."""

from __future__ import annotations

from training.experiments.paper import (
    PAPER_GRID,
    PAPER_LRS,
    SAG_SEG_SCALE,
    SHIPPED,
    _fmt,
    _pooled_cls,
    _prepared,
    _score,
    compare,
    crossval,
    gridsearch,
    retrain_all,
    train_prepared,
)

__all__ = [
    "PAPER_GRID",
    "PAPER_LRS",
    "SAG_SEG_SCALE",
    "SHIPPED",
    "_fmt",
    "_pooled_cls",
    "_prepared",
    "_score",
    "compare",
    "crossval",
    "gridsearch",
    "retrain_all",
    "train_prepared",
]
