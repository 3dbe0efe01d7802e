import type { PixelCodec } from './transfer-syntax';

/**
 * dcmjs 0.52 reads encapsulated Pixel Data (undefined length, PS3.5 A.4) into an array of ArrayBuffers:
 * - with a Basic Offset Table: one buffer per frame, the fragments of each frame already concatenated;
 * - with an empty Basic Offset Table: one buffer per fragment (the item values, without item headers).
 * The Extended Offset Table (7FE0,0001), when present, is left to us. This turns either form into frames.
 */
export function encapsulatedFrames(
  items: readonly ArrayBuffer[],
  frames: number,
  codec: PixelCodec,
  extendedOffsets?: ArrayBuffer,
): Uint8Array[] | string {
  const bytes = items.map((b) => new Uint8Array(b));
  if (bytes.length === frames) return bytes;
  if (frames === 1) return bytes.length === 0 ? 'no pixel data fragments' : [concat(bytes)];
  if (extendedOffsets && extendedOffsets.byteLength === frames * 8) {
    return groupByOffsets(bytes, extendedOffsets, frames);
  }
  if (codec === 'rle')
    return `${bytes.length} RLE fragments for ${frames} frames (one per frame is required)`;
  // No table: a frame starts with a fragment that opens a codestream (JPEG SOI, J2K SOC or a JP2 box).
  const groups: Uint8Array[][] = [];
  for (const b of bytes) {
    if (groups.length === 0 || startsCodestream(b)) groups.push([b]);
    else groups[groups.length - 1].push(b);
  }
  if (groups.length !== frames)
    return `${bytes.length} fragments make ${groups.length} frames, not ${frames}`;
  return groups.map(concat);
}

function groupByOffsets(bytes: Uint8Array[], table: ArrayBuffer, frames: number): Uint8Array[] | string {
  const view = new DataView(table);
  const starts = Array.from({ length: frames }, (_, i) => Number(view.getBigUint64(i * 8, true)));
  const groups: Uint8Array[][] = starts.map(() => []);
  let position = 0; // offset of each fragment's item tag from the first fragment's item tag
  let frame = -1;
  for (const b of bytes) {
    while (frame + 1 < frames && starts[frame + 1] <= position) frame++;
    if (frame < 0) return 'Extended Offset Table does not start at the first fragment';
    groups[frame].push(b);
    position += 8 + b.length;
  }
  if (groups.some((g) => g.length === 0)) return 'Extended Offset Table does not match the fragments';
  return groups.map(concat);
}

function startsCodestream(b: Uint8Array): boolean {
  if (b.length < 4) return false;
  if (b[0] === 0xff && (b[1] === 0xd8 || (b[1] === 0x4f && b[2] === 0xff && b[3] === 0x51))) return true;
  return b.length >= 8 && b[4] === 0x6a && b[5] === 0x50 && b[6] === 0x20 && b[7] === 0x20; // 'jP  '
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
