import { InputError } from '@lumbar/core';
import { claheReference } from './clahe';
import { discBbox, type View } from './discs';
import { cropImage, type Box, type GrayImage } from './image';
import { letterbox, SEG_SIZE, type LetterboxGeometry } from './letterbox';
import { claheOpenCv } from './opencv';
import { resizeBilinear } from './resize';
import { toTensor, type TensorData } from './tensor';

/** DiscNet's input: 64x64, grey replicated to 3 channels (the paper's parameter count implies 3). */
export const CROP_SIZE = 64;
export const CLASSIFIER_CHANNELS = 3;

/** 'opencv': OpenCV.js (needs `await initImaging()`); 'reference': the TypeScript port; false: none. */
export type ClaheImpl = 'opencv' | 'reference';

export interface CropOptions {
  size?: number;
  clahe?: ClaheImpl | false;
}

export interface DiscCrop {
  /** The box cut from the image (inclusive, margin added). */
  box: Box;
  /** The `size` x `size` crop after resizing, before CLAHE. */
  resized: GrayImage;
  /** After CLAHE (the same object as `resized` when CLAHE is off). */
  crop: GrayImage;
}

/**
 * 8-bit image + disc mask of the same size -> the box around the view's disc(s) (+10 %), resized to
 * 64x64 and enhanced with CLAHE; null when the mask holds no disc
 * (training/preprocess/classifier_input.py crop_disc).
 */
export function cropDisc(
  image: GrayImage,
  discMask: GrayImage,
  view: View,
  opts: CropOptions = {},
): DiscCrop | null {
  if (image.width !== discMask.width || image.height !== discMask.height) {
    throw new InputError(
      `image ${image.width}x${image.height} and mask ${discMask.width}x${discMask.height} differ`,
    );
  }
  const box = discBbox(discMask, view);
  if (!box) return null;
  const size = opts.size ?? CROP_SIZE;
  const resized = resizeBilinear(cropImage(image, box), size, size);
  const impl = opts.clahe ?? 'opencv';
  const crop = impl === false ? resized : impl === 'opencv' ? claheOpenCv(resized) : claheReference(resized);
  return { box, resized, crop };
}

/** The classifier's tensor (1, 3, 64, 64) for one view, with the crop it came from; null without a disc. */
export function classifierInput(
  image: GrayImage,
  discMask: GrayImage,
  view: View,
  opts: CropOptions = {},
): (DiscCrop & { tensor: TensorData }) | null {
  const c = cropDisc(image, discMask, view, opts);
  return c && { ...c, tensor: toTensor(c.crop, CLASSIFIER_CHANNELS) };
}

/** The U-Net's tensor (1, 1, 256, 256): the 8-bit image letterboxed, / 255; and where the image lies. */
export function segmentationInput(
  image: GrayImage,
  size = SEG_SIZE,
): { tensor: TensorData; geometry: LetterboxGeometry } {
  const { image: lb, geometry } = letterbox(image, size);
  return { tensor: toTensor(lb, 1), geometry };
}
