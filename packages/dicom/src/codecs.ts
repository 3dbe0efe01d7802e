import charlsFactory from '@cornerstonejs/codec-charls/decodewasmjs';
import libjpegTurboFactory from '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs';
import openjpegFactory from '@cornerstonejs/codec-openjpeg/decodewasmjs';
import { Decoder as JpegLosslessDecoder } from 'jpeg-lossless-decoder-js';
import { decodeRleFrame } from './rle';
import type { PixelCodec } from './transfer-syntax';

/** What a decoded frame must be: its size and the bytes per sample of the result. */
export interface FrameShape {
  rows: number;
  columns: number;
  bytesPerSample: 1 | 2;
}

/** The codecs of encapsulated transfer syntaxes. */
export type CompressedCodec = Exclude<PixelCodec, 'native' | 'native-big-endian'>;
type WasmCodecName = 'jpeg-ls' | 'jpeg-2000' | 'jpeg-baseline';

// The WebAssembly modules load once, on first use; their chatter (OpenJPEG's [INFO] lines) is dropped.
interface Loaded {
  Decoder: new () => WasmCodec.Decoder;
  /** Emscripten throws C++ exceptions as numbers; this turns one into the library's message. */
  message(err: unknown): string;
}
const quiet: WasmCodec.Options = { print: () => undefined, printErr: () => undefined };
const loaders: Record<WasmCodecName, () => Promise<Loaded>> = {
  'jpeg-ls': async () => wrap(await charlsFactory(quiet), (m) => m.JpegLSDecoder),
  'jpeg-2000': async () => wrap(await openjpegFactory(quiet), (m) => m.J2KDecoder),
  'jpeg-baseline': async () => wrap(await libjpegTurboFactory(quiet), (m) => m.JPEGDecoder),
};
const loaded = new Map<WasmCodecName, Promise<Loaded>>();

function wrap<M extends WasmCodec.Module>(module: M, decoder: (m: M) => new () => WasmCodec.Decoder): Loaded {
  const message = (err: unknown): string => {
    if (typeof err === 'number' && module.getExceptionMessage) {
      const m = module.getExceptionMessage(err);
      return Array.isArray(m) ? m.join(': ') : String(m);
    }
    if (typeof err === 'number') return `the decoder rejected the stream (exception ${err})`;
    return err instanceof Error ? err.message : String(err);
  };
  return { Decoder: decoder(module), message };
}

function wasmCodec(name: WasmCodecName): Promise<Loaded> {
  let p = loaded.get(name);
  if (!p) {
    p = loaders[name]();
    loaded.set(name, p);
  }
  return p;
}

/** JPEG, JPEG-LS and JPEG 2000 codestreams all end with FFD9 (EOI / EOC), perhaps padded to even length. */
function hasEndMarker(data: Uint8Array): boolean {
  for (let i = data.length - 2; i >= Math.max(0, data.length - 16); i--) {
    if (data[i] === 0xff && data[i + 1] === 0xd9) return true;
  }
  return false;
}

/**
 * Decodes one compressed frame to little-endian samples (rows * columns * bytesPerSample bytes).
 * Throws a plain Error with the codec's reason; the caller names the file.
 */
export async function decodeFrame(
  codec: CompressedCodec,
  data: Uint8Array,
  shape: FrameShape,
): Promise<Uint8Array> {
  const pixels = shape.rows * shape.columns;
  if (codec === 'rle') return decodeRleFrame(data, pixels, shape.bytesPerSample);
  // A truncated stream would decode to a partial image without complaint (or, for CharLS, take seconds).
  if (!hasEndMarker(data)) throw new Error('the codestream has no end marker (truncated?)');
  if (codec === 'jpeg-lossless') {
    const decoder = new JpegLosslessDecoder();
    const out = decoder.decode(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    if (decoder.numComp !== 1) throw new Error(`JPEG lossless stream has ${decoder.numComp} components`);
    const size = { width: decoder.xDim, height: decoder.yDim };
    return fit(
      new Uint8Array(out.buffer, out.byteOffset, out.byteLength),
      out.BYTES_PER_ELEMENT,
      size,
      shape,
    );
  }
  const { Decoder, message } = await wasmCodec(codec);
  const decoder = new Decoder();
  try {
    decoder.getEncodedBuffer(data.length).set(data);
    decoder.decode();
    const info = decoder.getFrameInfo();
    if (info.componentCount !== 1) throw new Error(`${codec} stream has ${info.componentCount} components`);
    const decoded = decoder.getDecodedBuffer().slice(); // copy out of WebAssembly memory before delete()
    return fit(decoded, info.bitsPerSample > 8 ? 2 : 1, info, shape);
  } catch (err) {
    throw new Error(message(err));
  } finally {
    decoder.delete();
  }
}

/** Checks the decoded size against the header and widens 8-bit samples when 16 were allocated. */
function fit(
  samples: Uint8Array,
  bytesIn: number,
  size: { width: number; height: number },
  shape: FrameShape,
): Uint8Array {
  const pixels = shape.rows * shape.columns;
  if (size.width !== shape.columns || size.height !== shape.rows || samples.length < pixels * bytesIn) {
    throw new Error(
      `decoded ${size.width}x${size.height} but the header says ${shape.columns}x${shape.rows}`,
    );
  }
  if (bytesIn === shape.bytesPerSample) return samples.subarray(0, pixels * bytesIn);
  if (bytesIn === 1 && shape.bytesPerSample === 2) {
    const out = new Uint8Array(pixels * 2);
    for (let i = 0; i < pixels; i++) out[2 * i] = samples[i];
    return out;
  }
  throw new Error(
    `decoded ${8 * bytesIn}-bit samples where the header allocates ${8 * shape.bytesPerSample}`,
  );
}
