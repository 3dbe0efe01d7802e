"""Python side of the spine-discs and grading parity test (test/parity/spine.test.ts runs it).

Usage: training/.venv/bin/python test/parity/spine_parity.py DIR GRADING_MODEL

Reads DIR/manifest.json ({"cases": [{"id", "rows", "cols"}]}) and, per case, DIR/in/<id>.image.bin and
DIR/in/<id>.mask.bin (uint8, rows x cols, written by the TypeScript test); runs training/grading_discs.py
``spine_discs`` on the mask and training/grading.py ``grading_input`` on every disc found (CHANNELS
channels: the resized crop, its CLAHE and, with 3, the disc's own component), then the grader
(training.inference.Runner) on the first C channels of those tensors, C = the grader card's input channels.
Writes DIR/py/results.json (channels, classes, discs, rejections and places), DIR/py/<id>.u8.bin (per disc, the
channels' bytes before / 255, CHANNELS x 64 x 64), DIR/py/<id>.x.bin (the float32 tensors) and
DIR/py/<id>.out.bin (float32 grader outputs, discs x classes). Nothing else.
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: `import training`

from training import preprocess as P  # noqa: E402 -- after the sys.path entry for the repository root
from training.grading import CHANNELS, CROP, crop_box, crop_padded, grading_input  # noqa: E402 -- after the sys.path entry for the repository root
from training.grading_discs import spine_discs  # noqa: E402 -- after the sys.path entry for the repository root
from training.inference import Runner  # noqa: E402 -- after the sys.path entry for the repository root


def disc_dict(d) -> dict:
    return {
        "label": d.label,
        "area": d.area,
        "x0": d.x0,
        "y0": d.y0,
        "x1": d.x1,
        "y1": d.y1,
        "cx": d.cx,
        "cy": d.cy,
        "major": d.major,
        "minor": d.minor,
        "tilt": d.tilt,
    }


def main() -> None:
    root, model = Path(sys.argv[1]), sys.argv[2]
    out = root / "py"
    out.mkdir(exist_ok=True)
    manifest = json.loads((root / "manifest.json").read_text())
    runner = Runner(model, "cpu")
    model_channels = int(runner.card["input"]["shape"][1])
    with_labels = len(inspect.signature(grading_input).parameters) == 3  # (image, labels, d) since 3 channels
    results = {}
    for case in manifest["cases"]:
        cid, shape = case["id"], (case["rows"], case["cols"])
        image = np.fromfile(root / "in" / f"{cid}.image.bin", dtype=np.uint8).reshape(shape)
        mask = np.fromfile(root / "in" / f"{cid}.mask.bin", dtype=np.uint8).reshape(shape)
        found = spine_discs(mask)
        labels, discs, rejected = found[:3]
        places = list(found[3]) if len(found) > 3 else list(range(1, len(discs) + 1))
        u8, xs = [], []
        for d in discs:
            box = crop_box(d)
            small = P.resize_bilinear_u8(crop_padded(image, box), CROP, CROP)
            planes = [small, P.clahe(small)]
            if CHANNELS == 3:
                own = np.where(labels == d.label, 255, 0).astype(np.uint8)
                planes.append(P.resize_bilinear_u8(crop_padded(own, box), CROP, CROP))
            u8.append(np.stack(planes))
            xs.append(grading_input(image, labels, d) if with_labels else grading_input(image, d))
        results[cid] = {
            "discs": [disc_dict(d) for d in discs],
            "boxes": [list(crop_box(d)) for d in discs],
            "rejected": [{"disc": disc_dict(d), "reason": r} for d, r in rejected],
            "places": places,
        }
        if discs:
            x = np.stack(xs).astype(np.float32)
            np.ascontiguousarray(np.stack(u8)).tofile(out / f"{cid}.u8.bin")
            np.ascontiguousarray(x).tofile(out / f"{cid}.x.bin")
            np.ascontiguousarray(runner(x[:, :model_channels]), dtype=np.float32).tofile(out / f"{cid}.out.bin")
    meta = {"channels": CHANNELS, "model_channels": model_channels, "classes": runner.classes}
    (out / "results.json").write_text(json.dumps({**meta, "cases": results}))


if __name__ == "__main__":
    main()
