"""Python side of the slice-gate parity test (test/parity/gate.test.ts runs it).

Usage: training/.venv/bin/python test/parity/gate_parity.py DIR MODEL_DIR

Reads DIR/manifest.json ({"cases": [{"id", "rows", "cols"}]}) and, per case, DIR/in/<id>.image.bin and
DIR/in/<id>.mask.bin (uint8, rows x cols, written by the TypeScript test); builds training/slice_gate.py's input
with the card's contexts and runs the ONNX model with onnxruntime. Writes DIR/py/<id>.gate.bin (uint8, C x 64 x 64)
and DIR/py/probs.json ({id: [p_not_disc, p_t2]}). Nothing else.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: `import training`

from training import preprocess as P  # noqa: E402 -- after the sys.path entry for the repository root
from training import slice_gate as G  # noqa: E402 -- after the sys.path entry for the repository root


def main() -> None:
    root = Path(sys.argv[1])
    card, run = G.load_onnx(sys.argv[2])
    contexts = tuple(card["preprocessing"]["contexts_tenths"])
    out = root / "py"
    out.mkdir(exist_ok=True)
    probs = {}
    for case in json.loads((root / "manifest.json").read_text())["cases"]:
        cid, shape = case["id"], (case["rows"], case["cols"])
        image = np.fromfile(root / "in" / f"{cid}.image.bin", dtype=np.uint8).reshape(shape)
        mask = np.fromfile(root / "in" / f"{cid}.mask.bin", dtype=np.uint8).reshape(shape)
        box = P.disc_bbox(mask, "axial")
        chans = G.gate_channels(image, box, contexts)
        chans.tofile(out / f"{cid}.gate.bin")
        probs[cid] = [float(v) for v in run(G.gate_input(image, mask, contexts)[None])[0]]
    (out / "probs.json").write_text(json.dumps(probs))


if __name__ == "__main__":
    main()
