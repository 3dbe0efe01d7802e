import { InputError, LumbarError } from '@lumbar/core';
import { CLAHE_CLIP_LIMIT, CLAHE_TILES, type ClaheOptions } from './clahe';
import type { GrayImage } from './image';

/**
 * OpenCV.js (@techstark/opencv-js, OpenCV 5.0.0 compiled to WebAssembly, the WASM embedded in the
 * JavaScript file: no file is read). Computation only, so it belongs in this pure package; it has to be
 * started once, asynchronously, with `await initImaging()`; everything after that is synchronous.
 */

interface CvMat {
  readonly data: Uint8Array;
  delete(): void;
}
interface CvSize {
  width: number;
  height: number;
}
interface CvClahe {
  apply(src: CvMat, dst: CvMat): void;
  delete(): void;
}
/** The part of OpenCV.js this package uses. */
interface OpenCv {
  Mat: new () => CvMat;
  Size: new (width: number, height: number) => CvSize;
  CLAHE: new (clipLimit: number, tileGridSize: CvSize) => CvClahe;
  matFromArray(rows: number, cols: number, type: number, array: ArrayLike<number>): CvMat;
  CV_8UC1: number;
  getBuildInformation(): string;
}

let cv: OpenCv | undefined;
let loading: Promise<void> | undefined;
const clahes = new Map<string, CvClahe>();

/**
 * Starts OpenCV.js (0.5-1 s and about 80 MB of memory, once); later calls return the same promise.
 * The module object is never awaited nor resolved as a promise's value: the 4.x builds of this package
 * export an Emscripten Module whose `then` hands back the Module itself, and awaiting that spins forever
 * (the 5.x build exports a real Promise; both go through `then` below).
 */
export function initImaging(): Promise<void> {
  loading ??= new Promise<void>((resolve, reject) => {
    // Loaded here, not at import time: 15 MB of JavaScript that most importers of this package never need.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('@techstark/opencv-js') as Partial<OpenCv> & {
      then?: (ok: (m: OpenCv) => void, fail?: (e: unknown) => void) => void;
      onRuntimeInitialized?: () => void;
    };
    const ready = (m: OpenCv): void => {
      cv = m;
      resolve();
    };
    if (typeof mod.Mat === 'function') ready(mod as OpenCv);
    else if (typeof mod.then === 'function') mod.then(ready, reject);
    else mod.onRuntimeInitialized = () => ready(mod as OpenCv);
  });
  return loading;
}

/** Whether `initImaging()` has finished. */
export function isImagingReady(): boolean {
  return cv !== undefined;
}

function opencv(): OpenCv {
  if (!cv) throw new LumbarError('IMAGING_NOT_READY', 'OpenCV.js is not started: await initImaging() first');
  return cv;
}

/** The OpenCV version inside OpenCV.js, e.g. "5.0.0" (for the provenance of derived objects). */
export function openCvVersion(): string {
  const m = /General configuration for OpenCV (\S+)/.exec(opencv().getBuildInformation());
  return m ? m[1] : 'unknown';
}

/** CLAHE by OpenCV.js: cv.CLAHE(clipLimit, Size(tilesX, tilesY)).apply, like cv2.createCLAHE in training. */
export function claheOpenCv(img: GrayImage, opts: ClaheOptions = {}): GrayImage {
  const c = opencv();
  if (img.width < 1 || img.height < 1) throw new InputError('CLAHE of an empty image');
  const clipLimit = opts.clipLimit ?? CLAHE_CLIP_LIMIT;
  const tilesX = opts.tilesX ?? CLAHE_TILES.x;
  const tilesY = opts.tilesY ?? CLAHE_TILES.y;
  const key = `${clipLimit}/${tilesX}/${tilesY}`;
  let clahe = clahes.get(key);
  if (!clahe) {
    clahe = new c.CLAHE(clipLimit, new c.Size(tilesX, tilesY));
    clahes.set(key, clahe);
  }
  const src = c.matFromArray(img.height, img.width, c.CV_8UC1, img.data);
  const dst = new c.Mat();
  try {
    clahe.apply(src, dst);
    return { width: img.width, height: img.height, data: new Uint8Array(dst.data) };
  } finally {
    src.delete();
    dst.delete();
  }
}
