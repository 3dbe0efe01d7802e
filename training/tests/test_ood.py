"""training/ood.py: features, fit, score, threshold = the validation quantile, save/load; noise is flagged."""

import numpy as np
import pytest

from training import ood as O
from training import preprocess as P


def _smooth_crops(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Disc-like 64x64 crops: a bright ellipse of random size and brightness on a darker background."""
    yy, xx = np.mgrid[0:64, 0:64]
    out = []
    for _ in range(n):
        a, b = rng.uniform(22, 25), rng.uniform(13, 15)
        inside = ((xx - 32 + rng.normal(0, 0.5)) / a) ** 2 + ((yy - 32 + rng.normal(0, 0.5)) / b) ** 2 <= 1
        img = np.where(inside, rng.uniform(150, 220), rng.uniform(30, 80)) + rng.normal(0, 3, (64, 64))
        out.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
    return out


def test_features_are_the_16x16_integer_bilinear_resize_over_255():
    crop = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    f = O.features(crop)
    assert f.dtype == np.float64 and f.shape == (256,)
    assert np.array_equal(f, P.resize_bilinear_u8(crop, 16, 16).astype(np.float64).reshape(-1) / 255.0)
    with pytest.raises(ValueError):
        O.features(crop.astype(np.float32))


def test_fit_score_threshold_and_noise():
    rng = np.random.default_rng(1)
    x_train = np.stack([O.features(c) for c in _smooth_crops(300, rng)])
    x_val = np.stack([O.features(c) for c in _smooth_crops(100, rng)])
    model = O.fit(x_train, k=6)
    comps = np.asarray(model["components"])
    assert np.allclose(comps @ comps.T, np.eye(6), atol=1e-10)
    assert model["variances"] == sorted(model["variances"], reverse=True)
    # the score is the PPCA Mahalanobis distance / D, written out
    x = x_val[0]
    d = x - np.asarray(model["mean"])
    z = comps @ d
    r = d - z @ comps
    want = ((z**2 / np.asarray(model["variances"])).sum() + (r**2).sum() / model["residualVariance"]) / 256
    assert O.score(model, x)[0] == pytest.approx(want, rel=1e-12)
    assert O.score(model, np.asarray(model["mean"]))[0] == 0
    # threshold = the 0.99 quantile of the validation scores
    cal = O.calibrate(model, x_val)
    assert cal["threshold"] == pytest.approx(float(np.quantile(O.score(model, x_val), 0.99)))
    assert cal["thresholdQuantile"] == 0.99
    assert O.flagged(cal, x_val).mean() <= 0.02
    # Gaussian noise is flagged
    noise = [np.clip(np.rint(rng.normal(128, 40, (64, 64))), 0, 255).astype(np.uint8) for _ in range(50)]
    assert O.flagged(cal, np.stack([O.features(c) for c in noise])).all()


def test_fit_refuses_bad_k():
    with pytest.raises(ValueError):
        O.fit(np.zeros((5, 16)), k=16)
    with pytest.raises(ValueError):
        O.fit(np.zeros((5, 16)), k=5)


def test_save_load_roundtrip(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.normal(0.5, 0.1, (50, 256))
    model = O.calibrate(O.fit(x, k=4), x[:10])
    path = O.save({"name": "ax-ood", "version": "test", **model}, tmp_path / "ax-ood")
    back = O.load(tmp_path / "ax-ood")
    assert path.name == "ood.json"
    assert np.array_equal(O.score(back, x), O.score(model, x))
    path.write_text('{"format": "other"}')
    with pytest.raises(ValueError):
        O.load(path)


def test_jitter_box_stays_inside():
    rng = np.random.default_rng(3)
    for _ in range(200):
        x0, y0, x1, y1 = O.jitter_box((0, 250, 60, 319), 320, 320, rng)
        assert 0 <= x0 < x1 <= 319 and 0 <= y0 < y1 <= 319
