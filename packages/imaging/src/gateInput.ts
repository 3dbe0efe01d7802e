import { discBbox } from './discs';
import type { Box, GrayImage } from './image';
import { cropPadded } from './gradingInput';
import { resizeBilinear } from './resize';
import type { TensorData } from './tensor';
import { toUint8 } from './window';

/**
 * The axial slice gate's input (models/ax-slice-gate; training/slice_gate.py `gate_box`, `gate_channels`,
 * `gate_input`; test/parity/gate.test.ts holds the bytes): around the axial classifier's disc box (the largest
 * component + 10 %, `discBbox`), one square window per context c (tenths of the box's side s = max(w, h)) of
 * half-side (c * s + 10) // 20, centred on ((X0 + X1) // 2, (Y0 + Y1) // 2), zero-padded outside the image,
 * resized to 64x64 by the integer bilinear rule, windowed to its own 0.5-99.5 percentiles, / 255.
 */
export const GATE_SIZE = 64;

/** The window of `context` tenths of the box's side, inclusive and possibly outside the image. */
export function gateBox(box: Box, context: number): Box {
  const s = Math.max(box.x1 - box.x0 + 1, box.y1 - box.y0 + 1);
  const half = Math.floor((context * s + 10) / 20);
  const cx = Math.floor((box.x0 + box.x1) / 2);
  const cy = Math.floor((box.y0 + box.y1) / 2);
  return { x0: cx - half, y0: cy - half, x1: cx + half, y1: cy + half };
}

/** One 64x64 uint8 plane per context (training/slice_gate.py gate_channels). */
export function gateChannels(image: GrayImage, box: Box, contexts: readonly number[]): GrayImage[] {
  return contexts.map((c) => {
    const small = resizeBilinear(cropPadded(image, gateBox(box, c)), GATE_SIZE, GATE_SIZE);
    return { width: GATE_SIZE, height: GATE_SIZE, data: toUint8(small.data) };
  });
}

/** The (1, C, 64, 64) tensor / 255 around the mask's axial disc box; null when the mask has no disc. */
export function gateInput(
  image: GrayImage,
  mask: GrayImage,
  contexts: readonly number[],
): { tensor: TensorData; box: Box } | null {
  const box = discBbox(mask, 'axial');
  if (!box) return null;
  const planes = gateChannels(image, box, contexts);
  const plane = GATE_SIZE * GATE_SIZE;
  const data = new Float32Array(planes.length * plane);
  planes.forEach((p, c) => {
    for (let i = 0; i < plane; i++) data[c * plane + i] = p.data[i] / 255;
  });
  return { tensor: { data, dims: [1, planes.length, GATE_SIZE, GATE_SIZE] }, box };
}
