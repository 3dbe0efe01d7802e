"""Head-up or upside down? A small self-supervised check for sagittal PNG slices without geometry.

SPIDER's PNG slices are said to be head up, but some are stored upside down (the sacrum at the top, the cord at
the bottom; docs/SAGITTAL-ALIGNMENT.md lists those found). Counting discs from the bottom of such a slice gives
every disc the grade of another. DICOM series carry their orientation, so the pipeline needs no such check; the
training data and ``python -m training evaluate`` on a SPIDER-layout folder do.

The check is learnt without labels: every slice is taken as head up and its vertical mirror as upside down
(most slices are head up, so the few that are not are label noise). A small CNN on the slice letterboxed to
64x64 learns the difference. ``cross_fit`` scores each slice with a model that did not see it; ``fit`` trains
the one saved beside the grader (``orientation.onnx``, output: P(upside down)).
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from training import preprocess as P

SIZE = 64
FILE = "orientation.onnx"


def to_input(image: np.ndarray) -> np.ndarray:
    lb, _ = P.letterbox(image, SIZE)
    return (lb.astype(np.float32) / 255.0)[None]


class OrientationNet(nn.Module):
    def __init__(self, width: int = 16):
        super().__init__()
        w = width
        layers = []
        cin = 1
        for cout in (w, 2 * w, 4 * w, 4 * w):
            layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            cin = cout
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(cin, 1)

    def forward(self, x):
        return self.head(self.features(x))[:, 0]


def _augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    n = x.shape[0]
    s = 0.85 + 0.3 * torch.rand(n, generator=g)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = 1 / s
    theta[:, 1, 1] = 1 / s
    theta[:, :, 2] = (torch.rand(n, 2, generator=g) - 0.5) * 0.2
    x = F.grid_sample(x, F.affine_grid(theta, list(x.shape), align_corners=False), align_corners=False)
    gamma = torch.exp((torch.rand(n, generator=g) - 0.5) * 0.8)[:, None, None, None]
    return x.clamp(0, 1) ** gamma


def fit(x: np.ndarray, epochs: int = 40, seed: int = 0) -> OrientationNet:
    """x: (N, 1, SIZE, SIZE) slices taken as head up; trains on them and their vertical mirrors."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    both = np.concatenate([x, x[:, :, ::-1, :]]).copy()
    y = np.concatenate([np.zeros(len(x)), np.ones(len(x))]).astype(np.float32)
    net = OrientationNet()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    rng = np.random.default_rng(seed)
    xt, yt = torch.from_numpy(both), torch.from_numpy(y)
    for _ in range(epochs):
        net.train()
        order = rng.permutation(len(both))
        for i in range(0, len(order), 32):
            b = order[i : i + 32]
            loss = F.binary_cross_entropy_with_logits(net(_augment(xt[b], g)), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


def predict(net: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return torch.sigmoid(net(torch.from_numpy(np.ascontiguousarray(x)))).numpy()


def cross_fit(x: np.ndarray, groups: np.ndarray, folds: int = 5, epochs: int = 40, seed: int = 0) -> np.ndarray:
    """P(upside down) of each slice from a model trained on the other patients' slices."""
    uniq = np.unique(groups)
    rng = np.random.default_rng(seed)
    fold_of = dict(zip(rng.permutation(uniq), np.arange(len(uniq)) % folds))
    f = np.array([fold_of[gname] for gname in groups])
    out = np.zeros(len(x), np.float32)
    for k in range(folds):
        net = fit(x[f != k], epochs, seed + k)
        out[f == k] = predict(net, x[f == k])
    return out


def export(net: nn.Module, path: str) -> None:
    class WithSigmoid(nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return torch.sigmoid(self.m(x))

    torch.onnx.export(
        WithSigmoid(net).eval(),
        (torch.zeros(1, 1, SIZE, SIZE),),
        path,
        opset_version=17,
        input_names=["input"],
        output_names=["output"],
        dynamo=False,
        dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
    )


class Checker:
    """The saved check (``orientation.onnx`` beside a grading model); ``upside_down(image)`` -> bool."""

    def __init__(self, model_dir: str):
        import onnxruntime as ort

        path = os.path.join(model_dir, FILE)
        self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"]) if os.path.isfile(path) else None

    def probability(self, image: np.ndarray) -> float | None:
        if self.session is None:
            return None
        return float(self.session.run(None, {"input": to_input(image)[None]})[0][0])

    def upside_down(self, image: np.ndarray) -> bool:
        p = self.probability(image)
        return p is not None and p > 0.5
