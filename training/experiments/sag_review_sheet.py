"""Review sheet for the sagittal alignment check (issue 13, docs/SAGITTAL-ALIGNMENT.md).

Segments every mid-sagittal slice of a SPIDER-layout folder with the shipped sag-seg-unet, finds the spine's discs
with training/grading_discs.py, and draws, per slice: each kept disc outlined in green and marked with its number
from the bottom, its level under normal anatomy and SPIDER's grades for that IVD label (P = Pfirrmann, H =
herniation, B = bulging, N = narrowing); components rejected by the disc finder in red with the reason; the number
of discs found beside overview.csv's num_discs. Pages of 8 slices are written as PNG.

Usage: training/.venv/bin/python -m training.experiments.sag_review_sheet [DATA [OUT_DIR]]
  DATA     default ../shared/data/spider
  OUT_DIR  default docs/review/sagittal
Selection: every slice whose disc count differs from num_discs or where a component was rejected, then ordinary
slices (seeded) until at least 40 patients are on the sheet. Prints one JSON line: the counts behind the doc.
"""

from __future__ import annotations

import json
import os
import sys

import cv2
import numpy as np

from training import grading as G
from training import preprocess as P
from training.datasets.common import read_grey
from training.grading_discs import spine_discs
from training.inference import Runner

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEG_MODEL = os.path.join(ROOT, "models", "sag-seg-unet")
TILE_H = 420
PER_PAGE = 8
MIN_PATIENTS = 40


def outline(rgb, labels, label, colour, thickness):
    cnts, _ = cv2.findContours((labels == label).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(rgb, cnts, -1, colour, thickness)


def tile(stem, image, labels, discs, rejected, grades, expected):
    p = stem.split("_")[0]
    s = TILE_H / image.shape[0]
    rgb = cv2.cvtColor(
        cv2.resize(image, (max(1, int(round(image.shape[1] * s))), TILE_H), interpolation=cv2.INTER_AREA),
        cv2.COLOR_GRAY2BGR,
    )
    big = cv2.resize(
        labels.astype(np.int32).astype(np.float32), (rgb.shape[1], TILE_H), interpolation=cv2.INTER_NEAREST
    ).astype(np.int32)
    for d, why in rejected:
        if why == "small":
            continue
        outline(rgb, big, d.label, (0, 0, 255), 2)
        cv2.putText(
            rgb, why, (int(d.x1 * s) + 3, int(d.cy * s)), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 255), 1, cv2.LINE_AA
        )
    for k, d in enumerate(discs, start=1):
        outline(rgb, big, d.label, (0, 220, 0), 1)
        g = grades.get(p, {}).get(k)
        level = G.LEVEL_OF_IVD.get(k, f"#{k}")
        text = f"{k} {level}" + (
            ""
            if g is None
            else f" P{g['pfirrmann']}"
            + "".join(c for c, key in (("H", "herniation"), ("B", "bulging"), ("N", "narrowing")) if g[key])
        )
        x = max(0, int(d.x0 * s) - 8 - 6 * len(text))
        cv2.putText(rgb, text, (x, int(d.cy * s) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(rgb, text, (x, int(d.cy * s) + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (80, 255, 255), 1, cv2.LINE_AA)
    head = f"{stem}: {len(discs)} found, num_discs {expected.get(stem, '?')}, graded {len(grades.get(p, {}))}"
    cv2.rectangle(rgb, (0, 0), (rgb.shape[1], 16), (0, 0, 0), -1)
    cv2.putText(rgb, head, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (255, 255, 255), 1, cv2.LINE_AA)
    return rgb


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    data = args[0] if len(args) > 0 else os.path.join(ROOT, "..", "shared", "data", "spider")
    out_dir = args[1] if len(args) > 1 else os.path.join(ROOT, "docs", "review", "sagittal")
    seg = Runner(SEG_MODEL, "cpu")
    grades = G.read_gradings(data)
    expected = G.read_num_discs(data)
    rows = []
    for path in G.sagittal_images(data):
        stem = os.path.basename(path)[:-4]
        image = read_grey(path)
        mask = seg.segment(image)
        labels, discs, rejected, _places = spine_discs(mask)  # (the old script unpacked 3 and crashed)
        old = len(P.disc_components(mask))
        rows.append({"stem": stem, "image": image, "labels": labels, "discs": discs, "rejected": rejected, "old": old})
    flagged = [
        r for r in rows if len(r["discs"]) != expected.get(r["stem"]) or any(w != "small" for _, w in r["rejected"])
    ]
    rest = [r for r in rows if r not in flagged]
    rng = np.random.default_rng(0)
    chosen = list(flagged)
    for i in rng.permutation(len(rest)):
        if len({r["stem"].split("_")[0] for r in chosen}) >= MIN_PATIENTS and len(chosen) % PER_PAGE == 0:
            break
        chosen.append(rest[i])
    os.makedirs(out_dir, exist_ok=True)
    for old in os.listdir(out_dir):
        if old.startswith("page-") and old.endswith(".png"):
            os.remove(os.path.join(out_dir, old))
    pages = []
    for n, i in enumerate(range(0, len(chosen), PER_PAGE), start=1):
        tiles = [
            tile(r["stem"], r["image"], r["labels"], r["discs"], r["rejected"], grades, expected)
            for r in chosen[i : i + PER_PAGE]
        ]
        rows_of = [tiles[j : j + 4] for j in range(0, len(tiles), 4)]
        width = max(sum(t.shape[1] for t in row) for row in rows_of)
        page = np.zeros((TILE_H * len(rows_of), width, 3), np.uint8)
        for ri, row in enumerate(rows_of):
            x = 0
            for t in row:
                page[ri * TILE_H : (ri + 1) * TILE_H, x : x + t.shape[1]] = t
                x += t.shape[1]
        name = f"page-{n:02d}.png"
        cv2.imwrite(os.path.join(out_dir, name), page, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        pages.append({"page": name, "slices": [r["stem"] for r in chosen[i : i + PER_PAGE]]})
    with_expected = [r for r in rows if r["stem"] in expected]

    def diff_counts(key):
        out = {}
        for r in with_expected:
            d = (len(r["discs"]) if key == "new" else r["old"]) - expected[r["stem"]]
            out[str(d)] = out.get(str(d), 0) + 1
        return dict(sorted(out.items(), key=lambda kv: int(kv[0])))

    reasons = {}
    for r in rows:
        for _, w in r["rejected"]:
            if w != "small":
                reasons[w] = reasons.get(w, 0) + 1
    summary = {
        "slices": len(rows),
        "patients": len({r["stem"].split("_")[0] for r in rows}),
        "found_minus_num_discs_all_components": diff_counts("old"),
        "found_minus_num_discs_spine_discs": diff_counts("new"),
        "rejected": reasons,
        "sheet_slices": len(chosen),
        "sheet_patients": len({r["stem"].split("_")[0] for r in chosen}),
        "pages": pages,
    }
    with open(os.path.join(out_dir, "index.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "pages"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
