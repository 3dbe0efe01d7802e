"""ONNX export (opset 17) and model card.

``models/<name>/model.onnx`` takes ``input`` float32 NCHW and gives ``output`` probabilities
(sigmoid per pixel and channel for segmentation, softmax over classes for classification);
``models/<name>/model.json`` is the model card (see models/README.md). The legacy TorchScript
exporter is used (``dynamo=False``): it writes opset 17 directly and needs no onnxscript.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os

import numpy as np
import torch
from torch import nn

from training import __version__
from training import report as R
from training.inference import CARD_NAME, ONNX_NAME, load_checkpoint, model_from_checkpoint

OPSET = 17


class WithActivation(nn.Module):
    def __init__(self, model: nn.Module, task: str):
        super().__init__()
        self.model = model
        self.task = task

    def forward(self, x):
        y = self.model(x)
        return torch.sigmoid(y) if self.task == "segmentation" else torch.softmax(y, dim=1)


def write_onnx(wrapped: nn.Module, input_shape: tuple[int, ...], path: str, dynamic_batch: bool = True) -> str:
    """Writes ``wrapped`` (a module in eval mode that already ends in its probabilities) as ONNX: opset OPSET,
    the legacy exporter, one ``input`` and one ``output``, the batch axis dynamic unless told otherwise. Every
    model the project ships is written by this one call (export_onnx, finetune.export_grading, grading)."""
    kwargs = {}
    if dynamic_batch:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.onnx.export(
        wrapped,
        (torch.zeros(*input_shape),),
        path,
        opset_version=OPSET,
        input_names=["input"],
        output_names=["output"],
        dynamo=False,
        do_constant_folding=True,
        **kwargs,
    )
    return path


def export_onnx(
    model: nn.Module, task: str, input_shape: tuple[int, ...], path: str, dynamic_batch: bool = True
) -> str:
    return write_onnx(WithActivation(model, task).eval(), input_shape, path, dynamic_batch)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_card(
    ckpt: dict, name: str, version: str, onnx_path: str, dynamic_batch: bool, metrics_source: str | None = None
) -> dict:
    task, view = ckpt["task"], ckpt["view"]
    kw = ckpt["arch_kwargs"]
    size = int(kw["input_size"])
    channels = int(kw["in_channels"])
    metrics = ckpt.get("metrics", {})
    split = ckpt.get("split", {})
    names = list(dict.fromkeys(c["name"] for c in ckpt.get("training_data", []) if not c.get("role")))
    data_desc = metrics_source or (
        f"held-out parts of the training data sets ({', '.join(names)}), "
        f"patient-level split {split.get('method')} seed {split.get('seed')}"
    )
    return {
        "card_version": 1,
        "name": name,
        "version": version,
        "task": task,
        "view": view,
        "architecture": ckpt["arch"],
        "file": ONNX_NAME,
        "sha256": sha256(onnx_path),
        "opset": OPSET,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "training_code": {
            "package": "training",
            "version": ckpt.get("training_version", __version__),
            "torch": ckpt.get("torch_version"),
        },
        "input": {
            "name": "input",
            "shape": [None if dynamic_batch else 1, channels, size, size],
            "layout": "NCHW",
            "dtype": "float32",
            "normalisation": "uint8 / 255 (range 0..1)",
            "channels": "1 grey channel" if channels == 1 else "grey crop replicated to 3 identical channels",
        },
        "output": {
            "name": "output",
            "shape": [None if dynamic_batch else 1, len(ckpt["classes"]), size, size]
            if task == "segmentation"
            else [None if dynamic_batch else 1, len(ckpt["classes"])],
            "activation": "sigmoid" if task == "segmentation" else "softmax",
            "classes": ckpt["classes"],
            "threshold": 0.5 if task == "segmentation" else None,
            **({"upsample": ckpt.get("upsample") or "nearest-mask"} if task == "segmentation" else {}),
        },
        "preprocessing": ckpt["preprocessing"],
        "training_data": ckpt.get("training_data", []),
        "images": ckpt.get("images"),
        "parameters": ckpt.get("params"),
        "hyperparameters": {
            **{
                k: ckpt["config"].get(k)
                for k in (
                    "optimizer",
                    "lr",
                    "beta1",
                    "beta2",
                    "eps",
                    "momentum",
                    "batch_size",
                    "epochs",
                    "max_steps",
                    "patience",
                    "seed",
                    "filters",
                    "dropout",
                    "augment",
                    "augment_extra",
                    "class_weights",
                    "both",
                    "drop_bulge",
                )
            },
            **{
                k: ckpt["config"][k]
                for k in ("lr_schedule", "monitor", "init", "time_limit")
                if ckpt["config"].get(k) not in (None, "constant", "loss")
            },
            **(
                {"epochs_run": ckpt["history_tail"]["epoch"], "steps_run": ckpt["history_tail"]["steps"]}
                if ckpt.get("history_tail")
                else {}
            ),
            **({"stopped": ckpt["history_tail"]["stopped"]} if (ckpt.get("history_tail") or {}).get("stopped") else {}),
            **({"trained_on": ckpt["device"]} if ckpt.get("device") else {}),
            **({"training_seconds": ckpt["seconds"]} if ckpt.get("seconds") else {}),
            **({"command": ckpt["config"]["command"]} if ckpt["config"].get("command") else {}),
        },
        "metrics": {"data": data_desc, **metrics},
        "intended_use": "research and demonstration; not a medical device; not for primary diagnosis",
    }


def export(
    run_or_ckpt: str,
    out_dir: str,
    name: str | None = None,
    version: str = "0.1.0",
    dynamic_batch: bool = True,
    check: bool = True,
    limitations: str | None = None,
) -> dict:
    ckpt = load_checkpoint(run_or_ckpt)
    model = model_from_checkpoint(ckpt)
    name = name or os.path.basename(os.path.normpath(out_dir))
    kw = ckpt["arch_kwargs"]
    shape = (1, int(kw["in_channels"]), int(kw["input_size"]), int(kw["input_size"]))
    onnx_path = export_onnx(model, ckpt["task"], shape, os.path.join(out_dir, ONNX_NAME), dynamic_batch)
    card = model_card(ckpt, name, version, onnx_path, dynamic_batch)
    if check:
        card["export_check"] = compare_onnx(model, ckpt["task"], onnx_path, shape)
    if limitations:
        card["limitations"] = limitations
    R.write_json(card, os.path.join(out_dir, CARD_NAME))
    return card


def check_onnx(wrapped: nn.Module, onnx_path: str, shape, seed: int = 0) -> dict:
    """Max |PyTorch - onnxruntime| on a random input in [0, 1], for a module as write_onnx wrote it."""
    import onnxruntime as ort

    x = np.random.default_rng(seed).random(shape, dtype=np.float32)
    with torch.no_grad():
        ref = wrapped(torch.from_numpy(x)).numpy()
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x})[0]
    return {"max_abs_diff": float(np.max(np.abs(ref - got))), "onnxruntime": ort.__version__}


def compare_onnx(model: nn.Module, task: str, onnx_path: str, shape, seed: int = 0) -> dict:
    """Max |PyTorch - onnxruntime| on a random input in [0, 1], for a model export_onnx wrote."""
    return check_onnx(WithActivation(model, task).eval(), onnx_path, shape, seed)
