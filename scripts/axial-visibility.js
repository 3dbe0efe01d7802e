// How much of each herniation the axial slices of a phantom study cut (docs/BENCHMARKS.md, "Axial labels"):
// per herniated reported level, each axial slice as "disc area mm2 : herniated material mm2" at its centre.
// Usage: node scripts/axial-visibility.js SEED N [STUDY_DIR:LEVEL ...]   (e.g. eval-2026 50 study-0021:L5-S1)
// Without STUDY_DIR:LEVEL filters it prints every herniated level of the first N studies of SEED.
const { planStudy, renderSlice, Rng } = require('../packages/phantom/dist');

const [seed, n, ...want] = process.argv.slice(2);
if (!seed || !n) {
  console.error('usage: node scripts/axial-visibility.js SEED N [STUDY_DIR:LEVEL ...]');
  process.exit(2);
}
for (let index = 0; index < Number(n); index++) {
  const plan = planStudy(seed, index);
  const ax = plan.series.find((s) => s.kind === 't2_tra');
  for (const d of plan.anatomy.discs) {
    if (d.herniationDepth <= 0 || !ax.levels.includes(d.level)) continue;
    const key = `${plan.folder}:${d.level}`;
    if (want.length && !want.includes(key)) continue;
    const rng = new Rng('visibility');
    const slices = [];
    ax.planes.forEach((plane, i) => {
      if (ax.levels[i] !== d.level) return;
      const s = renderSlice(plan.anatomy, plane, { ...ax.render, bias: [0, 0, 0] }, rng);
      const mm2 = plane.spacing[0] * plane.spacing[1];
      const area = s.mask.reduce((k, v) => k + (v === d.label ? 1 : 0), 0) * mm2;
      slices.push(`${Math.round(area)}:${(s.herniationPixels[d.label] * mm2).toFixed(1)}`);
    });
    console.log(`${key} ${d.pathology} depth ${d.herniationDepth.toFixed(1)} mm; slices ${slices.join(' ')}`);
  }
}
