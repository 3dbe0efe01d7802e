/**
 * An sRGB colour (0-255) as DICOM PCS CIELab (D50), scaled to unsigned 16 bits as
 * RecommendedDisplayCIELabValue wants it: L* 0..100 -> 0..65535, a* and b* -128..127 -> 0..65535.
 */
export function rgbToDicomLab(rgb: readonly [number, number, number]): [number, number, number] {
  const lin = rgb.map((v) => {
    const c = Math.min(255, Math.max(0, v)) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  // sRGB -> XYZ, Bradford-adapted to the D50 white point of the profile connection space
  const x = 0.4360747 * lin[0] + 0.3850649 * lin[1] + 0.1430804 * lin[2];
  const y = 0.2225045 * lin[0] + 0.7168786 * lin[1] + 0.0606169 * lin[2];
  const z = 0.0139322 * lin[0] + 0.0971045 * lin[1] + 0.7141733 * lin[2];
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 / 116) * t + 16 / 116);
  const [fx, fy, fz] = [f(x / 0.96422), f(y), f(z / 0.82521)];
  const L = 116 * fy - 16;
  const a = 500 * (fx - fy);
  const b = 200 * (fy - fz);
  const clamp = (v: number) => Math.min(65535, Math.max(0, Math.round(v)));
  return [clamp((L * 65535) / 100), clamp(((a + 128) * 65535) / 255), clamp(((b + 128) * 65535) / 255)];
}
