"""The golden preprocessing vectors (shared with TypeScript) still describe training/preprocess/."""

import json

import numpy as np

from training import preprocess as P
from training.tests.golden_preprocess import PATH, cases


def _np(a):
    return np.array(a["data"], dtype=np.int64).reshape(a["shape"])


def test_golden_file_is_current():
    with open(PATH) as f:
        stored = json.load(f)
    assert stored == json.loads(json.dumps(cases()))


def test_golden_cases_recomputed_independently():
    with open(PATH) as f:
        g = json.load(f)
    for c in g["window"]:
        assert np.array_equal(P.to_uint8(_np(c["input"])), _np(c["output"]))
    for c in g["crop"]:
        img, mask = _np(c["image"]).astype(np.uint8), _np(c["mask"]).astype(np.uint8)
        crop = P.crop_disc(img, mask, c["view"])
        assert np.array_equal(crop, _np(c["clahe"]))
        assert np.array_equal(P.clahe_reference(_np(c["resized"]).astype(np.uint8)), _np(c["clahe"]))
    for c in g["letterbox"]:
        lb, geo = P.letterbox(_np(c["image"]).astype(np.uint8), c["size"])
        assert np.array_equal(lb, _np(c["letterboxed"]))
        assert np.array_equal(P.unletterbox_mask(_np(c["mask_in"]).astype(np.uint8), geo), _np(c["mask_back"]))
