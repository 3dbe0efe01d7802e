import { InputError } from '@lumbar/core';
import { CompressedCodec, decodeFrame } from './codecs';
import { encapsulatedFrames } from './fragments';
import { framePlane, frameRescale } from './frame-meta';
import type { ImagePlane } from './geometry';
import { PixelModule, pixelModule } from './pixel-module';
import type { Dataset } from './write';

/** One decoded frame: modality values (rescale applied, MONOCHROME1 inverted), row-major. */
export interface Frame {
  rows: number;
  columns: number;
  pixels: Float32Array;
  /** Null when the object carries no usable position, orientation or pixel spacing for this frame. */
  plane: ImagePlane | null;
  instanceUid: string;
  /** 0-based index of the frame within its instance. */
  frameIndex: number;
}

/**
 * Decodes every frame of a naturalized dataset (as readPart10 returns it). Rejects colour images, missing
 * pixel data, unsupported transfer syntaxes and damaged pixel data with an InputError naming `name`.
 */
export async function decodeFrames(ds: Dataset, name = 'dataset'): Promise<Frame[]> {
  const pm = pixelModule(ds, name);
  const raw = await rawFrames(ds, pm, name);
  const instanceUid = String(ds.SOPInstanceUID ?? '');
  return raw.map((samples, frameIndex) => ({
    rows: pm.rows,
    columns: pm.columns,
    pixels: toModality(samples, pm, frameRescale(ds, frameIndex)),
    plane: framePlane(ds, frameIndex, pm.rows, pm.columns),
    instanceUid,
    frameIndex,
  }));
}

/** Each frame's samples as little-endian bytes (bitsAllocated / 8 per pixel). */
async function rawFrames(ds: Dataset, pm: PixelModule, name: string): Promise<Uint8Array[]> {
  const fail = (reason: string): never => {
    throw new InputError(`${name}: ${reason}`, { file: name });
  };
  const value = ds.PixelData;
  const items = (Array.isArray(value) ? value : [value]).filter(
    (b): b is ArrayBuffer => b instanceof ArrayBuffer,
  );
  if (items.length === 0) fail('no pixel data');
  const bytesPerSample = (pm.bitsAllocated / 8) as 1 | 2;
  const frameBytes = pm.rows * pm.columns * bytesPerSample;
  if (!pm.syntax.encapsulated) {
    const all = new Uint8Array(items[0]);
    if (all.length < frameBytes * pm.frames) {
      fail(`pixel data truncated: ${all.length} of ${frameBytes * pm.frames} bytes`);
    }
    const frames = Array.from({ length: pm.frames }, (_, i) =>
      all.subarray(i * frameBytes, (i + 1) * frameBytes),
    );
    return pm.syntax.codec === 'native-big-endian' && bytesPerSample === 2 ? frames.map(swap16) : frames;
  }
  const eot = ds.ExtendedOffsetTable instanceof ArrayBuffer ? ds.ExtendedOffsetTable : undefined;
  const split = encapsulatedFrames(items, pm.frames, pm.syntax.codec, eot);
  if (typeof split === 'string') return fail(`${pm.syntax.name}: ${split}`);
  const shape = { rows: pm.rows, columns: pm.columns, bytesPerSample };
  const out: Uint8Array[] = [];
  for (let i = 0; i < split.length; i++) {
    try {
      out.push(await decodeFrame(pm.syntax.codec as CompressedCodec, split[i], shape));
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      fail(`${pm.syntax.name}: cannot decode frame ${i + 1} of ${split.length}: ${reason}`);
    }
  }
  return out;
}

function swap16(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(b.length);
  for (let i = 0; i + 1 < b.length; i += 2) {
    out[i] = b[i + 1];
    out[i + 1] = b[i];
  }
  return out;
}

/**
 * Stored values to modality values: keep BitsStored bits (sign-extended when PixelRepresentation is 1),
 * invert MONOCHROME1 within the stored range so that brighter is always higher, then apply the rescale.
 */
export function toModality(
  samples: Uint8Array,
  pm: Pick<PixelModule, 'bitsAllocated' | 'bitsStored' | 'signed' | 'monochrome1'>,
  rescale: { slope: number; intercept: number },
): Float32Array {
  const n = pm.bitsAllocated === 16 ? samples.length >> 1 : samples.length;
  const out = new Float32Array(n);
  const bits = pm.bitsStored;
  const mask = bits >= 32 ? 0xffffffff : 2 ** bits - 1;
  const signBit = 2 ** (bits - 1);
  const { slope, intercept } = rescale;
  for (let i = 0; i < n; i++) {
    let v = pm.bitsAllocated === 16 ? samples[2 * i] | (samples[2 * i + 1] << 8) : samples[i];
    v &= mask;
    if (pm.signed && v >= signBit) v -= 2 * signBit;
    if (pm.monochrome1) v = pm.signed ? -1 - v : mask - v;
    out[i] = v * slope + intercept;
  }
  return out;
}
