// Chooses the fusion policy on a TUNING set of phantom studies (never the evaluation seed): runs the
// pipeline once per study, then scores every policy of a small grid by per-level accuracy over L4-L5 and
// L5-S1 (indeterminate counts as wrong). Usage: node scripts/tune-fusion.js PHANTOM_DIR [MODELS_DIR]
const path = require('node:path');
const fs = require('node:fs');
const { initImaging } = require('../packages/imaging/dist');
const { openModelSet, closeModelSet } = require('../packages/inference/dist');
const { analyzeStudy, fuseLevel, aggregate, axialLevelEvidence } = require('../packages/pipeline/dist');
const { loadStudyInput } = require('../packages/cli/dist/study-input');

(async () => {
  const dir = process.argv[2];
  const models = await openModelSet(process.argv[3] || path.join(__dirname, '..', 'models'));
  await initImaging();
  const truth = JSON.parse(fs.readFileSync(path.join(dir, 'truth.json'), 'utf8'));
  const cases = [];
  for (const s of truth.studies) {
    const r = await analyzeStudy((await loadStudyInput(path.join(dir, s.dir))).input, models);
    for (const l of r.levels)
      cases.push({ truth: s.levels[l.level], sag: l.evidence.sagittal, axial: l.evidence.axial });
  }
  await closeModelSet(models);
  const results = [];
  for (const axialAggregate of ['mean', 'max-herniation'])
    for (const sagittalAggregate of ['max', 'top2', 'mean'])
      for (const sagittalWeight of [0, 0.2, 0.3, 0.4, 0.5])
        for (const maxDisagreement of [0.6, 0.8, 1.01])
          for (const minConfidence of [0.4, 0.5]) {
            const policy = {
              axialAggregate,
              sagittalAggregate,
              sagittalWeight,
              maxDisagreement,
              minConfidence,
            };
            let ok = 0;
            let indeterminate = 0;
            for (const c of cases) {
              const per = (c.sag?.perSlice ?? [])
                .map((p) => p.herniationProbability)
                .filter((p) => p !== null);
              const f = c.sag
                ? fuseLevel(
                    {
                      sagittalHerniation: aggregate(per, sagittalAggregate),
                      axial: axialLevelEvidence(c.axial, axialAggregate),
                    },
                    policy,
                  )
                : { diagnosis: 'indeterminate' };
              if (f.diagnosis === c.truth) ok++;
              if (f.diagnosis === 'indeterminate') indeterminate++;
            }
            results.push({
              policy,
              accuracy: ok / cases.length,
              indeterminate: indeterminate / cases.length,
            });
          }
  results.sort((a, b) => b.accuracy - a.accuracy || a.indeterminate - b.indeterminate);
  console.log(`${cases.length} levels from ${truth.studies.length} studies in ${dir}`);
  for (const r of results.slice(0, Number(process.env.TOP || 8))) console.log(JSON.stringify(r));
})();
