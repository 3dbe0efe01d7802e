"""Image preprocessing shared by training and (re-implemented bit for bit) by the TypeScript pipeline.

Every step here is written so that the TypeScript side can reproduce it *exactly*, pixel for pixel:
integer arithmetic wherever possible, and where OpenCV is used (CLAHE) a pure-numpy reference
(:func:`clahe_reference`) spells out the arithmetic and a test checks it equals OpenCV.

Pipeline for the classifiers (paper section II.B "Bounding box cropping", "ROI Enhancement"):

1. 16-bit DICOM -> 8 bits: :func:`to_uint8` (0.5th..99.5th percentile window, mirror of
   ``packages/imaging/src/window.ts``). PNG data sets are already 8-bit.
2. Disc mask -> components (8-connectivity) -> the component(s) of interest
   (:func:`select_disc_components`): axial = the largest; sagittal = the two lowest (L4-L5, L5-S1).
3. Bounding box of those components enlarged by 10 % (5 % each side, :func:`bbox_with_margin`),
   clamped to the image.
4. Crop, resize to 64x64 with :func:`resize_bilinear_u8` (integer half-pixel bilinear, equal to
   ``cv2.INTER_LINEAR`` up to +-1 grey level; we do NOT call cv2.resize because its fixed-point
   rounding and IPP paths are not specified).
5. CLAHE clipLimit 2.0, tileGridSize (4, 4) (``cv2.createCLAHE``; exact arithmetic in
   :func:`clahe_reference`).
6. Replicate grey to 3 channels (DiscNet takes 64x64x3: the paper's parameter count implies 3 input
   channels), float32 = uint8 / 255, layout NCHW.

Pipeline for the U-Nets: :func:`letterbox` the 8-bit image to 256x256 (aspect kept, zero padding,
bilinear as above), float32 = uint8 / 255, 1 channel. Predicted probabilities > 0.5 -> binary mask,
:func:`unletterbox_mask` back to the image size (nearest, integer rule).

One module per file of ``packages/imaging/src/`` (the TypeScript twin named in each module's header); this package
re-exports every name, so ``from training import preprocess as P; P.crop_disc(...)`` works as before:

=========================  ==========================================  =============================================
module                     TypeScript twin (packages/imaging/src/)      what
=========================  ==========================================  =============================================
``window``                 ``window.ts``                                16 -> 8 bits, percentile window
``resize``                 ``resize.ts``                                integer bilinear, nearest, float bilinear
``letterbox``              ``letterbox.ts``                             U-Net canvas and back (masks, probabilities)
``components``             ``components.ts``                            :class:`Component`
``discs``                  ``discs.ts``                                 disc components, their box (+10 %)
``clahe``                  ``clahe.ts``                                 CLAHE constants, :func:`clahe_reference`
``opencv``                 ``opencv.ts``                                :func:`clahe` (OpenCV)
``tensor``                 ``tensor.ts``                                :func:`crop_to_input`
``classifier_input``       ``classifierInput.ts``                       :func:`crop_disc`, :func:`seg_input`
``augment``                (none: training only)                        flip, brightness, :class:`Augment`
``spec``                   (none: written into model cards)             :func:`preprocessing_spec`
=========================  ==========================================  =============================================

The other files there have their Python twins elsewhere: ``image.ts`` (GrayImage, Box, cropImage) is numpy arrays and
slicing here; ``spine.ts`` is ``training/grading_discs.py``; ``gradingInput.ts`` is ``training/grading.py``
(``crop_box``, ``grading_input``); ``gateInput.ts`` is ``training/slice_gate.py``.
"""

from __future__ import annotations

from training.preprocess.augment import Augment, adjust_brightness, flip_label, hflip
from training.preprocess.clahe import CLAHE_CLIP_LIMIT, CLAHE_TILES, _round_half_even, clahe_reference
from training.preprocess.classifier_input import CROP_SIZE, crop_disc, seg_input
from training.preprocess.components import Component
from training.preprocess.discs import (
    BBOX_MARGIN_PERCENT_EACH_SIDE,
    MIN_COMPONENT_FRACTION,
    bbox_with_margin,
    disc_bbox,
    disc_components,
    levels_from_bottom,
    margin_pixels,
    select_disc_components,
)
from training.preprocess.letterbox import (
    SEG_SIZE,
    Letterbox,
    letterbox,
    letterbox_geometry,
    letterbox_mask_smooth,
    prob_to_mask,
    unletterbox_mask,
    unletterbox_prob,
)
from training.preprocess.opencv import clahe
from training.preprocess.resize import (
    RESIZE_INTERPOLATION,
    _bilinear_axis,
    resize_bilinear_float,
    resize_bilinear_u8,
    resize_nearest,
)
from training.preprocess.spec import preprocessing_spec, seg_preprocessing_spec
from training.preprocess.tensor import crop_to_input
from training.preprocess.window import _js_round, percentile_window, to_uint8

__all__ = [
    "BBOX_MARGIN_PERCENT_EACH_SIDE",
    "CLAHE_CLIP_LIMIT",
    "CLAHE_TILES",
    "CROP_SIZE",
    "MIN_COMPONENT_FRACTION",
    "RESIZE_INTERPOLATION",
    "SEG_SIZE",
    "Augment",
    "Component",
    "Letterbox",
    "_bilinear_axis",
    "_js_round",
    "_round_half_even",
    "adjust_brightness",
    "bbox_with_margin",
    "clahe",
    "clahe_reference",
    "crop_disc",
    "crop_to_input",
    "disc_bbox",
    "disc_components",
    "flip_label",
    "hflip",
    "letterbox",
    "letterbox_geometry",
    "letterbox_mask_smooth",
    "levels_from_bottom",
    "margin_pixels",
    "percentile_window",
    "preprocessing_spec",
    "prob_to_mask",
    "resize_bilinear_float",
    "resize_bilinear_u8",
    "resize_nearest",
    "select_disc_components",
    "seg_input",
    "seg_preprocessing_spec",
    "to_uint8",
    "unletterbox_mask",
    "unletterbox_prob",
]
