import { ImagePlane } from '@lumbar/dicom';
import { DISC_LEVELS } from '@lumbar/core';
import { AXIAL_HERNIATION_MIN_MM2, planStudy, renderSlice, Rng } from '@lumbar/phantom';

// Rendering runs inside jest here (slower than in its own process), so the planes are coarsened: the
// same centre and orientation with twice the pixel spacing.
function coarse(p: ImagePlane, f = 2): ImagePlane {
  const [sr, sc] = p.spacing;
  const centre = [0, 1, 2].map(
    (k) => p.position[k] + (p.row[k] * sc * (p.columns - 1)) / 2 + (p.col[k] * sr * (p.rows - 1)) / 2,
  );
  const rows = Math.round(p.rows / f);
  const columns = Math.round(p.columns / f);
  const spacing = [sr * f, sc * f] as const;
  const position = [0, 1, 2].map(
    (k) => centre[k] - (p.row[k] * spacing[1] * (columns - 1)) / 2 - (p.col[k] * spacing[0] * (rows - 1)) / 2,
  ) as [number, number, number];
  return { ...p, position, spacing, rows, columns };
}

describe('axial herniation visibility', () => {
  it('counts herniated material only for herniated discs, and the best cut of most herniations shows it', () => {
    let herniatedLevels = 0;
    let shown = 0;
    for (let index = 0; index < 12 && herniatedLevels < 4; index++) {
      const plan = planStudy('axial-visibility', index);
      const ax = plan.series.find((s) => s.kind === 't2_tra')!;
      const rng = new Rng('noise');
      const best = new Map<string, number>();
      ax.planes.forEach((plane0, i) => {
        const plane = coarse(plane0);
        const slice = renderSlice(plan.anatomy, plane, { ...ax.render, bias: [0, 0, 0] }, rng);
        for (const d of plan.anatomy.discs) {
          const mm2 = slice.herniationPixels[d.label] * plane.spacing[0] * plane.spacing[1];
          if (d.herniationDepth <= 0) expect(slice.herniationPixels[d.label]).toBe(0);
          else if (ax.levels[i] === d.level) best.set(d.level, Math.max(best.get(d.level) ?? 0, mm2));
        }
        // herniated material is part of the disc mask
        const inMask = slice.mask.reduce((n, v) => n + (v > 0 ? 1 : 0), 0);
        expect(slice.herniationPixels.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(inMask);
      });
      for (const [level, mm2] of best) {
        expect(DISC_LEVELS).toContain(level);
        herniatedLevels++;
        if (mm2 >= AXIAL_HERNIATION_MIN_MM2) shown++;
      }
    }
    // a slab can miss a herniation altogether (then no axial slice shows it), but that is the exception
    expect(herniatedLevels).toBeGreaterThanOrEqual(4);
    expect(shown / herniatedLevels).toBeGreaterThanOrEqual(0.75);
  });
});
