// The WebAssembly decoders ship no type declarations; we type the small surface we use.
declare namespace WasmCodec {
  interface FrameInfo {
    width: number;
    height: number;
    bitsPerSample: number;
    componentCount: number;
    isSigned?: boolean;
  }
  /** The shape shared by the Cornerstone codec decoders (an embind class: call delete() when done). */
  interface Decoder {
    getEncodedBuffer(length: number): Uint8Array;
    decode(): void;
    getFrameInfo(): FrameInfo;
    getDecodedBuffer(): Uint8Array;
    delete(): void;
  }
  interface Module {
    getExceptionMessage?: (err: number) => string | string[];
  }
  interface Options {
    print?: (text: string) => void;
    printErr?: (text: string) => void;
  }
}

declare module '@cornerstonejs/codec-charls/decodewasmjs' {
  const factory: (
    opts?: WasmCodec.Options,
  ) => Promise<WasmCodec.Module & { JpegLSDecoder: new () => WasmCodec.Decoder }>;
  export default factory;
}

declare module '@cornerstonejs/codec-openjpeg/decodewasmjs' {
  const factory: (
    opts?: WasmCodec.Options,
  ) => Promise<WasmCodec.Module & { J2KDecoder: new () => WasmCodec.Decoder }>;
  export default factory;
}

declare module '@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs' {
  const factory: (
    opts?: WasmCodec.Options,
  ) => Promise<WasmCodec.Module & { JPEGDecoder: new () => WasmCodec.Decoder }>;
  export default factory;
}

declare module 'jpeg-lossless-decoder-js' {
  /** JPEG lossless (process 14, any predictor); returns Uint8Array or Uint16Array samples. */
  export class Decoder {
    numComp: number;
    precision: number;
    xDim: number;
    yDim: number;
    decode(
      buffer: ArrayBuffer,
      offset?: number,
      length?: number,
      numBytes?: number,
    ): Uint8Array | Uint16Array;
  }
}
