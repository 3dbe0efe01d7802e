"""Running trained models: from a training checkpoint (PyTorch) or an exported model folder
(``model.onnx`` + ``model.json``, onnxruntime). Used by evaluate, by the classifier data
preparation (segment images that have no mask) and by the export check."""

from __future__ import annotations

import json
import os

import numpy as np
import torch

from training import preprocess as P

CHECKPOINT_NAME = "checkpoint.pt"
ONNX_NAME = "model.onnx"
CARD_NAME = "model.json"


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def load_checkpoint(path: str) -> dict:
    if os.path.isdir(path):
        path = os.path.join(path, CHECKPOINT_NAME)
    return torch.load(path, map_location="cpu", weights_only=False)


def state_dict_from_onnx(model_dir: str) -> dict:
    """The PyTorch state_dict of a model exported by ``export`` (``model.onnx`` beside ``model.json``):
    its initializers are the parameters and buffers, named ``model.<state_dict key>`` (BatchNorm's
    ``num_batches_tracked`` is not exported; it is set to 0)."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load(os.path.join(model_dir, ONNX_NAME) if os.path.isdir(model_dir) else model_dir)
    out = {}
    for init in m.graph.initializer:
        if init.name.startswith("model."):
            out[init.name[len("model.") :]] = torch.from_numpy(numpy_helper.to_array(init).copy())
    return out


def init_state_dict(path: str, model: torch.nn.Module) -> dict:
    """Weights to start a run from: a run folder or checkpoint.pt, or a shipped model folder
    (``models/<name>``: model.onnx). Every parameter and buffer of ``model`` must be found, with its shape."""
    if (
        os.path.isdir(path)
        and not os.path.isfile(os.path.join(path, CHECKPOINT_NAME))
        and os.path.isfile(os.path.join(path, ONNX_NAME))
    ):
        sd = state_dict_from_onnx(path)
    else:
        sd = load_checkpoint(path)["state_dict"]
    ref = model.state_dict()
    for k, v in ref.items():
        if k not in sd and k.endswith("num_batches_tracked"):
            sd[k] = torch.zeros_like(v)
    missing = [k for k in ref if k not in sd]
    wrong = [k for k in ref if k in sd and tuple(sd[k].shape) != tuple(ref[k].shape)]
    extra = [k for k in sd if k not in ref]
    if missing or wrong or extra:
        raise ValueError(
            f"{path}: weights do not fit the model (missing {missing[:3]}, wrong shape {wrong[:3]}, unexpected "
            f"{extra[:3]})"
        )
    return {k: sd[k].to(ref[k].dtype) for k in ref}


def model_from_checkpoint(ckpt: dict) -> torch.nn.Module:
    from training.models import build_model

    kw = dict(ckpt["arch_kwargs"])
    kw.pop("weights", None)
    model = build_model(ckpt["arch"], **kw)
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model


class Runner:
    """Batch runner returning probabilities (sigmoid for segmentation, softmax for classification)."""

    def __init__(self, path: str, device: str = "auto"):
        self.path = path
        if os.path.isdir(path) and os.path.isfile(os.path.join(path, ONNX_NAME)):
            import onnxruntime as ort

            with open(os.path.join(path, CARD_NAME)) as f:
                self.card = json.load(f)
            so = ort.SessionOptions()
            so.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
            self.session = ort.InferenceSession(os.path.join(path, ONNX_NAME), so, providers=["CPUExecutionProvider"])
            self.input_name = self.session.get_inputs()[0].name
            self.kind = "onnx"
            self.task = self.card["task"]
            self.view = self.card["view"]
            self.classes = self.card["output"]["classes"]
            self.input_size = int(self.card["input"]["shape"][-1])
            self.fixed_batch = isinstance(self.card["input"]["shape"][0], int)
        else:
            ckpt = load_checkpoint(path)
            self.card = ckpt
            self.model = model_from_checkpoint(ckpt)
            self.device = pick_device(device)
            self.model.to(self.device)
            self.kind = "torch"
            self.task = ckpt["task"]
            self.view = ckpt["view"]
            self.classes = ckpt["classes"]
            self.input_size = int(
                ckpt["arch_kwargs"].get("input_size", P.SEG_SIZE if self.task == "segmentation" else P.CROP_SIZE)
            )

    def __call__(self, x: np.ndarray, batch_size: int = 16) -> np.ndarray:
        outs = []
        for i in range(0, len(x), batch_size):
            xb = np.ascontiguousarray(x[i : i + batch_size], dtype=np.float32)
            if self.kind == "onnx":
                if self.fixed_batch:
                    outs += [self.session.run(None, {self.input_name: xb[j : j + 1]})[0] for j in range(len(xb))]
                else:
                    outs.append(self.session.run(None, {self.input_name: xb})[0])
            else:
                with torch.no_grad():
                    logits = self.model(torch.from_numpy(xb).to(self.device)).float()
                    p = torch.sigmoid(logits) if self.task == "segmentation" else torch.softmax(logits, 1)
                outs.append(p.cpu().numpy())
        return np.concatenate(outs) if outs else np.zeros((0,), np.float32)

    @property
    def upsample(self) -> str:
        """How probabilities go back to the image's size: the card's ``output.upsample`` (older cards and
        checkpoints: ``nearest-mask``)."""
        if self.kind == "onnx":
            return self.card["output"].get("upsample") or "nearest-mask"
        return self.card.get("upsample") or "nearest-mask"

    @property
    def threshold(self) -> float:
        """The card's ``output.threshold`` (the pipeline uses the same; checkpoints: 0.5)."""
        t = self.card["output"].get("threshold") if self.kind == "onnx" else None
        return 0.5 if t is None else float(t)

    def segment(self, image: np.ndarray, channel: int = 0) -> np.ndarray:
        """uint8 image -> uint8 0/1 disc mask of the same size (the card's threshold and upsampling)."""
        x, g = P.seg_input(image, self.input_size)
        prob = self(x[None])[0, channel]
        return P.prob_to_mask(prob, g, self.upsample, self.threshold)
