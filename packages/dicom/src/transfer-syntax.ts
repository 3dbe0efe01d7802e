/** How the pixel data of a transfer syntax is stored, and which decoder reads it. */
export type PixelCodec =
  | 'native' // uncompressed, little endian
  | 'native-big-endian' // uncompressed, big endian words
  | 'rle' // PS3.5 Annex G
  | 'jpeg-lossless' // JPEG process 14 (any selection value)
  | 'jpeg-baseline' // JPEG 8-bit lossy (process 1, and process 2 when 8-bit)
  | 'jpeg-ls' // JPEG-LS lossless and near-lossless
  | 'jpeg-2000'; // JPEG 2000 reversible and irreversible

export interface TransferSyntax {
  uid: string;
  name: string;
  codec: PixelCodec;
  encapsulated: boolean;
  lossy: boolean;
}

const ts = (uid: string, name: string, codec: PixelCodec, lossy = false): TransferSyntax => ({
  uid,
  name,
  codec,
  encapsulated: codec !== 'native' && codec !== 'native-big-endian',
  lossy,
});

/** The transfer syntaxes whose pixel data we decode. Deflate is inflated by dcmjs while it parses. */
export const TRANSFER_SYNTAXES: readonly TransferSyntax[] = [
  ts('1.2.840.10008.1.2', 'Implicit VR Little Endian', 'native'),
  ts('1.2.840.10008.1.2.1', 'Explicit VR Little Endian', 'native'),
  ts('1.2.840.10008.1.2.1.99', 'Deflated Explicit VR Little Endian', 'native'),
  ts('1.2.840.10008.1.2.2', 'Explicit VR Big Endian', 'native-big-endian'),
  ts('1.2.840.10008.1.2.5', 'RLE Lossless', 'rle'),
  ts('1.2.840.10008.1.2.4.57', 'JPEG Lossless, Non-Hierarchical (Process 14)', 'jpeg-lossless'),
  ts('1.2.840.10008.1.2.4.70', 'JPEG Lossless, First-Order Prediction (Process 14 SV1)', 'jpeg-lossless'),
  ts('1.2.840.10008.1.2.4.50', 'JPEG Baseline (Process 1)', 'jpeg-baseline', true),
  ts('1.2.840.10008.1.2.4.51', 'JPEG Extended (Process 2 & 4)', 'jpeg-baseline', true),
  ts('1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless', 'jpeg-ls'),
  ts('1.2.840.10008.1.2.4.81', 'JPEG-LS Near-Lossless', 'jpeg-ls', true),
  ts('1.2.840.10008.1.2.4.90', 'JPEG 2000 Lossless Only', 'jpeg-2000'),
  ts('1.2.840.10008.1.2.4.91', 'JPEG 2000', 'jpeg-2000', true),
];

const BY_UID = new Map(TRANSFER_SYNTAXES.map((t) => [t.uid, t]));

/** The transfer syntax with this UID, or undefined when we cannot decode its pixel data. */
export function transferSyntax(uid: string): TransferSyntax | undefined {
  return BY_UID.get(uid.replace(/\0/g, '').trim());
}
