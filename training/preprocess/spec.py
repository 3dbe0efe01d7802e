"""The machine-readable description of the preprocessing that goes into checkpoints and model cards (``preprocessing``).
No TypeScript twin: the node reads it from the card. The strings name ``training/preprocess.py``, the module's
earlier name: they are written into shipped model cards and stay as they are."""

from __future__ import annotations

from training.preprocess.clahe import CLAHE_CLIP_LIMIT, CLAHE_TILES
from training.preprocess.classifier_input import CROP_SIZE
from training.preprocess.discs import BBOX_MARGIN_PERCENT_EACH_SIDE
from training.preprocess.letterbox import SEG_SIZE
from training.preprocess.resize import RESIZE_INTERPOLATION


def preprocessing_spec(view: str | None = None) -> dict:
    """Machine-readable description of the rules above (goes into model cards)."""
    return {
        "dicom_to_uint8": {
            "method": "percentile-window",
            "low_percentile": 0.5,
            "high_percentile": 99.5,
            "rule": "lo = smallest v with count(values <= v) >= ceil(low/100*n), hi likewise; "
            "y = floor((round(v) - lo) * 255 / (hi - lo) + 0.5) clamped 0..255",
            "reference": "packages/imaging/src/window.ts toUint8 == training/preprocess.py to_uint8",
        },
        "disc_components": {
            "connectivity": 8,
            "min_area_rule": "keep components with area * 10 >= largest component area",
            "axial": "largest component (ties: first in raster order)",
            "sagittal": "two lowest components by mean row (centroid y) descending: L5-S1 and L4-L5",
            "selected": None if view is None else ("largest" if view == "axial" else "two-lowest"),
        },
        "bbox": {
            "margin_percent_each_side": BBOX_MARGIN_PERCENT_EACH_SIDE,
            "rule": "w = x1-x0+1; mx = (w+10)//20; X0 = max(0, x0-mx); X1 = min(cols-1, x1+mx); "
            "same for y with rows; inclusive bounds; crop = image[Y0..Y1, X0..X1]",
        },
        "resize": {
            "size": [CROP_SIZE, CROP_SIZE],
            "interpolation": RESIZE_INTERPOLATION,
            "rule": "per axis (src S, dst D): n = (2d+1)*S - D; n<0 -> i0=0,f=0 else i0=n//(2D), "
            "f=n-i0*2D; i0>=S-1 -> i0=S-1,f=0; i1=min(i0+1,S-1); w0=2D-f, w1=f; "
            "out = (wy0*(wx0*p00+wx1*p01) + wy1*(wx0*p10+wx1*p11) + den/2) // den, den=4*Dx*Dy",
            "aspect_ratio": "not kept (box stretched to 64x64)",
        },
        "clahe": {
            "clip_limit": CLAHE_CLIP_LIMIT,
            "tile_grid": list(CLAHE_TILES),
            "implementation": "cv2.createCLAHE(clipLimit=2.0, tileGridSize=(4,4)).apply on the 64x64 uint8 crop; "
            "exact arithmetic in training/preprocess.py clahe_reference",
        },
        "channels": {"count": 3, "rule": "grey crop replicated to 3 identical channels"},
        "normalisation": "float32 = uint8 / 255",
    }


def seg_preprocessing_spec(size: int = SEG_SIZE, smooth_masks: bool = False, crop_size: int | None = None) -> dict:
    spec = {
        "dicom_to_uint8": preprocessing_spec()["dicom_to_uint8"],
        "letterbox": {
            "size": [size, size],
            "rule": "m = max(rows, cols); new_rows = max(1, (rows*S + m//2)//m); new_cols likewise; "
            "top = (S-new_rows)//2; left = (S-new_cols)//2; zero padding",
            "interpolation": RESIZE_INTERPOLATION
            + (
                " (image); training masks: the 0/1 map resized bilinearly (half-pixel, float) and kept where >= 0.5"
                if smooth_masks
                else " (image), nearest-half-pixel (masks: src = ((2d+1)*S)//(2D))"
            ),
        },
        "normalisation": "float32 = uint8 / 255",
        "channels": 1,
        "postprocessing": (
            "cut the letterbox area out of the disc probabilities, resize them bilinearly (half-pixel centres, "
            "float) to rows x cols, disc where probability > 0.5"
            if smooth_masks
            else "probability > 0.5 -> disc; cut the letterbox area out and nearest-resize back "
            "to rows x cols with src = ((2d+1)*S)//(2D)"
        ),
    }
    if crop_size and crop_size != size:
        spec["training_crops"] = {
            "size": [crop_size, crop_size],
            "rule": f"trained on random {crop_size}x{crop_size} crops of the {size}x{size} letterbox (after "
            "augmentation); "
            f"applied to the whole {size}x{size} letterbox (the U-Net is fully convolutional)",
        }
    return spec
