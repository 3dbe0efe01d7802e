"""Python side of the OOD parity test (test/parity/ood.test.ts runs it).

Usage: training/.venv/bin/python test/parity/ood_parity.py DIR OOD_JSON

Reads DIR/manifest.json ({"cases": [{"id", "rows", "cols"}]}) and, per case, DIR/in/<id>.image.bin and
DIR/in/<id>.mask.bin (uint8, rows x cols, written by the TypeScript test); crops the axial disc before CLAHE
(training/preprocess/ crop_disc use_clahe=False), takes training/ood.py's feature image (small) and score.
Writes DIR/py/<id>.small.bin (uint8 size x size) and DIR/py/scores.json ({id: score}). Nothing else.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: `import training`

from training import ood as O  # noqa: E402 -- after the sys.path entry for the repository root
from training import preprocess as P  # noqa: E402 -- after the sys.path entry for the repository root


def main() -> None:
    root, model = Path(sys.argv[1]), O.load(sys.argv[2])
    out = root / "py"
    out.mkdir(exist_ok=True)
    size = int(model["features"]["size"])
    scores = {}
    for case in json.loads((root / "manifest.json").read_text())["cases"]:
        cid, shape = case["id"], (case["rows"], case["cols"])
        image = np.fromfile(root / "in" / f"{cid}.image.bin", dtype=np.uint8).reshape(shape)
        mask = np.fromfile(root / "in" / f"{cid}.mask.bin", dtype=np.uint8).reshape(shape)
        crop = P.crop_disc(image, mask, "axial", use_clahe=False)
        small = O.small(crop, size)
        small.tofile(out / f"{cid}.small.bin")
        scores[cid] = float(O.score(model, O.features(crop, size))[0])
    (out / "scores.json").write_text(json.dumps(scores))


if __name__ == "__main__":
    main()
