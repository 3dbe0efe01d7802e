/**
 * Converts pixel values of any range to 8 bits the same way everywhere (phantom training layout,
 * pipeline before the models): a window from the `low`-th to the `high`-th percentile of the
 * values, mapped linearly to 0..255 with rounding half up, clamped.
 *
 * Percentiles come from a histogram of integer values (DICOM stored values are integers), so
 * the result is exact and identical in TypeScript and Python (training/preprocess/window.py mirrors it):
 * lo = smallest v with count(values <= v) >= ceil(low/100 * n), hi likewise with `high`.
 */
export function percentileWindow(
  values: ArrayLike<number>,
  low = 0.5,
  high = 99.5,
): { lo: number; hi: number } {
  const n = values.length;
  if (n === 0) return { lo: 0, hi: 0 };
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = Math.round(values[i]);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const hist = new Uint32Array(max - min + 1);
  for (let i = 0; i < n; i++) hist[Math.round(values[i]) - min]++;
  const rankLo = Math.max(1, Math.ceil((low / 100) * n));
  const rankHi = Math.max(1, Math.ceil((high / 100) * n));
  let lo = max;
  let hi = max;
  let acc = 0;
  let foundLo = false;
  for (let v = 0; v < hist.length; v++) {
    acc += hist[v];
    if (!foundLo && acc >= rankLo) {
      lo = v + min;
      foundLo = true;
    }
    if (acc >= rankHi) {
      hi = v + min;
      break;
    }
  }
  return { lo, hi };
}

export function toUint8(values: ArrayLike<number>, low = 0.5, high = 99.5): Uint8Array {
  const { lo, hi } = percentileWindow(values, low, high);
  const out = new Uint8Array(values.length);
  const range = hi - lo;
  if (range <= 0) return out;
  for (let i = 0; i < values.length; i++) {
    const y = Math.floor(((Math.round(values[i]) - lo) * 255) / range + 0.5);
    out[i] = y < 0 ? 0 : y > 255 ? 255 : y;
  }
  return out;
}
