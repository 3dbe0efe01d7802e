import { InputError } from '@lumbar/core';
import { CODES, codeItem } from './codes';
import { DerivedIds, derivedCommon, withCharacterSet } from './derived';
import { SourceImage, imageReference } from './source-image';
import type { Dataset } from './write';

export const SECONDARY_CAPTURE_STORAGE = '1.2.840.10008.5.1.4.1.1.7';

export interface SecondaryCaptureInput {
  /** The image the capture shows (patient, study and the Source Image Sequence come from it). */
  source: SourceImage;
  sourceFrame?: number;
  width: number;
  height: number;
  /** 8-bit RGB, pixel-interleaved, row-major: width * height * 3 bytes. */
  rgb: Uint8Array;
  /** Patient directions of the rows and columns as displayed (e.g. ['P', 'F'] for a sagittal slice). */
  patientOrientation?: readonly [string, string];
  /** What the image shows (DerivationDescription). */
  description: string;
  /** Shown by viewers that display Image Comments: the intended-use statement. */
  comments: string;
  ids: DerivedIds;
  createdAt: Date;
}

/**
 * A Secondary Capture Image (RGB) of a rendered key image: for viewers that render neither SEG nor SR.
 * It is derived and secondary, cites the slice it was made from and carries the disclaimer in Image Comments.
 */
export function secondaryCaptureDataset(input: SecondaryCaptureInput): Dataset {
  const { width, height, rgb } = input;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new InputError(`secondary capture: bad size ${width}x${height}`);
  }
  if (rgb.length !== width * height * 3) {
    throw new InputError(`secondary capture: ${rgb.length} bytes for ${width}x${height} RGB`);
  }
  const pixels = rgb.length % 2 ? new Uint8Array(rgb.length + 1) : new Uint8Array(rgb.length);
  pixels.set(rgb);
  return withCharacterSet({
    ...derivedCommon(input.source, {
      sopClassUid: SECONDARY_CAPTURE_STORAGE,
      modality: 'OT',
      ids: input.ids,
      createdAt: input.createdAt,
    }),
    ImageType: ['DERIVED', 'SECONDARY'],
    ConversionType: 'WSD',
    BodyPartExamined: 'LSPINE', // unpaired: Laterality (type 2C) is then absent
    PatientOrientation: input.patientOrientation ? [...input.patientOrientation] : '',
    DerivationDescription: input.description.slice(0, 1024),
    DerivationCodeSequence: [codeItem(CODES.segmentation)],
    SourceImageSequence: [
      {
        ...imageReference(input.source, input.sourceFrame ?? 0),
        PurposeOfReferenceCodeSequence: [codeItem(CODES.sourceImageForProcessing)],
      },
    ],
    ImageComments: input.comments,
    BurnedInAnnotation: 'NO',
    LossyImageCompression: '00',
    SamplesPerPixel: 3,
    PhotometricInterpretation: 'RGB',
    PlanarConfiguration: 0,
    Rows: height,
    Columns: width,
    BitsAllocated: 8,
    BitsStored: 8,
    HighBit: 7,
    PixelRepresentation: 0,
    PixelData: [pixels.buffer],
    _vrMap: { PixelData: 'OB' },
  });
}
