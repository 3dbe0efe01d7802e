import { InputError } from '@lumbar/core';
import { claheReference } from './clahe';
import type { ClaheImpl } from './classifierInput';
import type { Box, GrayImage } from './image';
import { claheOpenCv } from './opencv';
import { resizeBilinear } from './resize';
import type { TensorData } from './tensor';

/**
 * The sagittal grader's input for one disc (training/grading.py `crop_box`, `crop_padded`, `grading_input`;
 * test/parity/spine.test.ts holds the bytes): a square centred on the disc, shifted a tenth of the disc's
 * width towards the back (anterior is left on the canonical image), 1.6 x the disc's width on a side and
 * zero-padded outside the image; resized to 64x64; channel 0 that crop / 255, channel 1 its CLAHE / 255, and
 * for 3-channel models channel 2 the disc's own component (255 inside, 0 outside) cut from the label map with
 * the same box and resized the same way, / 255 (which disc of the crop is graded).
 */
export const GRADING_CROP = 64;
/** The input channels a grading model may take: [crop, CLAHE] or [crop, CLAHE, own component]. */
export const GRADING_CHANNEL_COUNTS: readonly number[] = [2, 3];

/** What the crop needs of a disc: its bounding box (inclusive), centroid, and label (3 channels). */
export interface DiscPlace {
  readonly x0: number;
  readonly x1: number;
  readonly cx: number;
  readonly cy: number;
  /** The disc's component label in the label map (`SpineDiscs.labels`); needed for 3 channels. */
  readonly label?: number;
}

/** Python's round_half_up: floor(v + 0.5). */
const roundHalfUp = (v: number): number => Math.floor(v + 0.5);

/**
 * The crop box, inclusive and possibly outside the image: w = x1 - x0 + 1, half = (8w + 5) // 10,
 * centre x = round(cx) + (w + 5) // 10, centre y = round(cy) (rounded half up).
 */
export function gradingCropBox(d: DiscPlace): Box {
  const w = d.x1 - d.x0 + 1;
  const half = Math.floor((8 * w + 5) / 10);
  const cx = roundHalfUp(d.cx) + Math.floor((w + 5) / 10);
  const cy = roundHalfUp(d.cy);
  return { x0: cx - half, y0: cy - half, x1: cx + half, y1: cy + half };
}

/** The pixels of `box` (inclusive), zeros where it leaves the image (grading.py `crop_padded`). */
export function cropPadded(image: GrayImage, box: Box): GrayImage {
  const width = box.x1 - box.x0 + 1;
  const height = box.y1 - box.y0 + 1;
  const data = new Uint8Array(width * height);
  const sx0 = Math.max(0, box.x0);
  const sy0 = Math.max(0, box.y0);
  const sx1 = Math.min(image.width - 1, box.x1);
  const sy1 = Math.min(image.height - 1, box.y1);
  if (sx1 >= sx0 && sy1 >= sy0)
    for (let y = sy0; y <= sy1; y++)
      data.set(
        image.data.subarray(y * image.width + sx0, y * image.width + sx1 + 1),
        (y - box.y0) * width + (sx0 - box.x0),
      );
  return { width, height, data };
}

/** 255 where `labels` is `label` inside `box`, 0 elsewhere and outside the image (crop_padded of the mask). */
export function cropOwnMask(
  labels: ArrayLike<number>,
  width: number,
  height: number,
  label: number,
  box: Box,
): GrayImage {
  const w = box.x1 - box.x0 + 1;
  const h = box.y1 - box.y0 + 1;
  const data = new Uint8Array(w * h);
  for (let y = Math.max(0, box.y0); y <= Math.min(height - 1, box.y1); y++)
    for (let x = Math.max(0, box.x0); x <= Math.min(width - 1, box.x1); x++)
      if (labels[y * width + x] === label) data[(y - box.y0) * w + (x - box.x0)] = 255;
  return { width: w, height: h, data };
}

export interface GradingInput {
  /** The crop box on the image (inclusive, possibly outside it). */
  box: Box;
  /** The crop resized to 64x64 (channel 0 x 255). */
  resized: GrayImage;
  /** Its CLAHE (channel 1 x 255). */
  enhanced: GrayImage;
  /** The disc's own component resized (channel 2 x 255); 3 channels only. */
  own?: GrayImage;
  /** (1, channels, 64, 64) float32, / 255. */
  tensor: TensorData;
}

export interface GradingInputOptions {
  /** 'opencv' (the default, as training: needs `await initImaging()`) or the TypeScript port. */
  clahe?: ClaheImpl;
  /** 2 (the default) or 3: the model card's input channels. */
  channels?: number;
  /** The component label map of the image (row-major, its size): 3 channels need it and `disc.label`. */
  labels?: ArrayLike<number>;
}

/** One disc's input to the sagittal grader. */
export function gradingInput(
  image: GrayImage,
  disc: DiscPlace,
  opts: GradingInputOptions = {},
): GradingInput {
  const channels = opts.channels ?? 2;
  if (!GRADING_CHANNEL_COUNTS.includes(channels))
    throw new InputError(`a grading input has 2 or 3 channels, not ${channels}`);
  const { labels } = opts;
  if (channels === 3 && (!labels || labels.length !== image.width * image.height || disc.label === undefined))
    throw new InputError("a 3-channel grading input needs the image's label map and the disc's label");
  const box = gradingCropBox(disc);
  const resized = resizeBilinear(cropPadded(image, box), GRADING_CROP, GRADING_CROP);
  const enhanced = (opts.clahe ?? 'opencv') === 'opencv' ? claheOpenCv(resized) : claheReference(resized);
  const own =
    channels === 3
      ? resizeBilinear(
          cropOwnMask(labels!, image.width, image.height, disc.label!, box),
          GRADING_CROP,
          GRADING_CROP,
        )
      : undefined;
  const planes = own ? [resized, enhanced, own] : [resized, enhanced];
  const plane = GRADING_CROP * GRADING_CROP;
  const data = new Float32Array(channels * plane);
  // float32(v) / 255 as numpy divides a float32 array (v / 255 in doubles rounds to the same float32)
  planes.forEach((p, c) => {
    for (let i = 0; i < plane; i++) data[c * plane + i] = p.data[i] / 255;
  });
  return {
    box,
    resized,
    enhanced,
    ...(own ? { own } : {}),
    tensor: { data, dims: [1, channels, GRADING_CROP, GRADING_CROP] },
  };
}
