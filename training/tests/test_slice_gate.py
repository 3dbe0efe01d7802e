"""The axial slice gate (training/slice_gate.py): its input contract, threshold rule and export."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from training import slice_gate as G


def test_gate_box_is_a_square_of_context_tenths_around_the_box_centre():
    # box 101 x 51 px: side 101; context 11 -> half (11 * 101 + 10) // 20 = 56; centre (150, 125)
    assert G.gate_box((100, 100, 200, 150), 11) == (150 - 56, 125 - 56, 150 + 56, 125 + 56)
    assert G.gate_box((0, 0, 9, 9), 20) == (4 - 10, 4 - 10, 4 + 10, 4 + 10)


def test_gate_input_is_none_without_a_disc_and_windows_each_context():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 40, (120, 160)).astype(np.uint8)
    image[40:80, 60:100] = rng.integers(180, 255, (40, 40))
    mask = np.zeros_like(image)
    assert G.gate_input(image, mask) is None
    mask[40:80, 60:100] = 1
    x = G.gate_input(image, mask, (11, 29))
    assert x.shape == (2, 64, 64) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() <= 1
    # the tight window is mostly the bright square, the wide one mostly background
    assert x[0].mean() > x[1].mean() + 0.2


def test_pick_threshold_drops_at_most_the_allowed_share_of_disc_slices():
    y = np.array([0] * 34 + [1] * 12)
    p = np.r_[np.linspace(0, 0.9, 34), np.linspace(0.5, 1, 12)]
    t = G.pick_threshold(y, p, 0.03)
    assert ((p >= t) & (y == 0)).sum() == 1
    assert ((p >= t) & (y == 1)).sum() == (p[y == 1] >= t).sum() > 0
    assert ((p >= G.pick_threshold(y, p, 0.0)) & (y == 0)).sum() == 0


def test_train_learns_a_separable_toy_problem_and_exports_a_card(tmp_path):
    rng = np.random.default_rng(0)

    def sample(k, bright_centre, t2):
        img = rng.integers(0, 60, (96, 96)).astype(np.uint8)
        if bright_centre:
            img[38:58, 38:58] = 230
        return G.Sample(str(k), img, [(36, 36, 59, 59)], 0 if bright_centre else 1, t2, "toy")

    samples = [sample(k, k % 2 == 0, 1) for k in range(16)]
    net = G.train(samples, epochs=12, real_repeat=2, seed=0)
    p = G.predict(net, G.exact_inputs(samples))
    y = np.array([s.not_disc for s in samples])
    assert G.auc(y, p[:, 0]) > 0.9
    G.export(net, str(tmp_path), "0.0.1", {"not_disc": 0.5, "t2": 0.5}, {}, [])
    card = json.loads((tmp_path / "model.json").read_text())
    assert card["task"] == "slice-gate" and card["output"]["classes"] == ["not_disc", "t2"]
    assert card["input"]["shape"] == [None, 2, 64, 64]
    pytest.importorskip("onnxruntime")
    _, run = G.load_onnx(str(tmp_path))
    q = run(G.exact_inputs(samples))
    assert np.allclose(q, p, atol=1e-5)
    assert os.path.getsize(tmp_path / "model.onnx") > 10_000
