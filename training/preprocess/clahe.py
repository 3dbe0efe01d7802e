"""CLAHE's constants and :func:`clahe_reference`, a pure-numpy re-statement of OpenCV's arithmetic (a test checks it
equals ``cv2``; training itself calls OpenCV: :func:`training.preprocess.opencv.clahe`).
TypeScript twin: ``packages/imaging/src/clahe.ts``."""

from __future__ import annotations

import numpy as np

CLAHE_CLIP_LIMIT = 2.0
CLAHE_TILES = (4, 4)


def _round_half_even(x: np.ndarray) -> np.ndarray:
    return np.rint(x)


def clahe_reference(
    img: np.ndarray, clip_limit: float = CLAHE_CLIP_LIMIT, tiles: tuple[int, int] = CLAHE_TILES
) -> np.ndarray:
    """Pure-numpy re-statement of cv2 CLAHE for uint8 images whose size divides by the tile grid
    (64x64 with 4x4 tiles: 16x16 tiles of 256 pixels). The tests check it equals cv2 exactly.

    Per tile (tx, ty), with A = tile area, 256 bins:
      limit = max(1, int(clip_limit * A / 256))             (64x64, 4x4: 2)
      hist clipped at limit; clipped = sum of excess;
      batch = clipped // 256, residual = clipped - 256*batch; every bin += batch;
      if residual: step = max(256 // residual, 1); for i = 0, step, 2*step, ... while i < 256 and
        residual > 0: hist[i] += 1, residual -= 1
      lut[v] = round_half_even(cumsum(hist)[v] * (255 / A))   (float32; exact for A = 256)
    Per pixel (x, y) with value v, tile size (tw, th):
      txf = x / tw - 0.5; tx1 = floor(txf); xa = txf - tx1; tx2 = min(tx1 + 1, tilesX - 1);
      tx1 = max(tx1, 0); same for y;
      res = (lut[ty1][tx1][v]*(1-xa) + lut[ty1][tx2][v]*xa)*(1-ya)
          + (lut[ty2][tx1][v]*(1-xa) + lut[ty2][tx2][v]*xa)*ya
      out = round_half_even(res)                                (exact in float32 here)
    """
    img = np.asarray(img, dtype=np.uint8)
    rows, cols = img.shape
    tiles_x, tiles_y = tiles
    if rows % tiles_y or cols % tiles_x:
        raise ValueError("clahe_reference needs an image size divisible by the tile grid")
    th, tw = rows // tiles_y, cols // tiles_x
    area = th * tw
    limit = max(1, int(clip_limit * area / 256))
    lut_scale = np.float32(255.0) / np.float32(area)
    luts = np.zeros((tiles_y, tiles_x, 256), dtype=np.float32)
    for ty in range(tiles_y):
        for tx in range(tiles_x):
            tile = img[ty * th : (ty + 1) * th, tx * tw : (tx + 1) * tw]
            hist = np.bincount(tile.ravel(), minlength=256).astype(np.int64)
            excess = np.maximum(hist - limit, 0)
            clipped = int(excess.sum())
            hist = np.minimum(hist, limit)
            batch = clipped // 256
            residual = clipped - batch * 256
            hist += batch
            if residual:
                step = max(256 // residual, 1)
                i = 0
                while i < 256 and residual > 0:
                    hist[i] += 1
                    i += step
                    residual -= 1
            cums = np.cumsum(hist).astype(np.float32)
            luts[ty, tx] = np.clip(_round_half_even(cums * lut_scale), 0, 255)

    def axis(n: int, t: int, count: int):
        f = np.arange(n, dtype=np.float32) * (np.float32(1) / np.float32(t)) - np.float32(0.5)
        i1 = np.floor(f).astype(np.int64)
        a = (f - i1).astype(np.float32)
        i2 = np.minimum(i1 + 1, count - 1)
        i1 = np.maximum(i1, 0)
        return i1, i2, a

    ty1, ty2, ya = axis(rows, th, tiles_y)
    tx1, tx2, xa = axis(cols, tw, tiles_x)
    v = img.astype(np.int64)
    yy = np.arange(rows)[:, None]
    xx = np.arange(cols)[None, :]
    l11 = luts[ty1[yy], tx1[xx], v]
    l12 = luts[ty1[yy], tx2[xx], v]
    l21 = luts[ty2[yy], tx1[xx], v]
    l22 = luts[ty2[yy], tx2[xx], v]
    xa_ = xa[None, :]
    ya_ = ya[:, None]
    one = np.float32(1.0)
    res = (l11 * (one - xa_) + l12 * xa_) * (one - ya_) + (l21 * (one - xa_) + l22 * xa_) * ya_
    return np.clip(_round_half_even(res.astype(np.float32)), 0, 255).astype(np.uint8)
