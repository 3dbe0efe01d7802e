import { ALGORITHM } from '@lumbar/core';
import { secondaryCaptureDataset, writePart10 } from '@lumbar/dicom';
import { burnInText } from '../banner';
import { renderKeyImageRgb } from '../overlay';
import { SERIES_NUMBERS, type Context, type DicomOutput, type View } from './context';

/** Patient directions of the displayed rows and columns of the canonical key images. */
const ORIENTATION: Record<View, readonly [string, string]> = { sagittal: ['P', 'F'], axial: ['L', 'P'] };

/** A secondary capture per key image, with the intended-use banner burned in. */
export function keyImages(ctx: Context): DicomOutput[] {
  return ctx.result.keyImages.map((k, i) => {
    const source = ctx.source(k.sopInstanceUid);
    const mask = ctx.result.masks.find((m) => m.sopInstanceUid === k.sopInstanceUid);
    const { width, height, rgb } = renderKeyImageRgb(k);
    burnInText(rgb, width, height, [
      'Not for primary diagnosis',
      k.title,
      ctx.result.summary,
      `${ALGORITHM.name} ${ALGORITHM.version}`,
    ]);
    const ids = ctx.uids('key-images', `key-image:${k.sopInstanceUid}:${k.title}`);
    const dataset = secondaryCaptureDataset({
      source,
      sourceFrame: mask?.frame ?? 0,
      width,
      height,
      rgb,
      patientOrientation: mask ? ORIENTATION[mask.view] : undefined,
      description: `${k.title}: disc masks by level (${ALGORITHM.name} ${ALGORITHM.version})`,
      comments: `${k.title}. ${ctx.result.summary}. ${ALGORITHM.disclaimer}`,
      ids: {
        ...ids,
        seriesNumber: SERIES_NUMBERS.keyImages,
        instanceNumber: i + 1,
        seriesDescription: `${ALGORITHM.name} key images - not for primary diagnosis`,
      },
      createdAt: ctx.createdAt,
    });
    return {
      file: `key-image-${i + 1}.dcm`,
      kind: 'key-image' as const,
      sopClassUid: dataset.SOPClassUID as string,
      ...ids,
      bytes: writePart10(dataset),
    };
  });
}
