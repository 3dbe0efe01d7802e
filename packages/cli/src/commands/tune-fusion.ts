import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { InputError } from '@lumbar/core';
import { AnalysisEngine, analysisSettingsFromFlags } from '@lumbar/analysis';
import {
  aggregate,
  axialLevelEvidence,
  fuseLevel,
  type FusionPolicy,
  type LevelFinding,
} from '@lumbar/pipeline';

// `lumbar tune-fusion DIR`: chooses the fusion policy (packages/pipeline/src/fuse.ts, DEFAULT_FUSION) on a
// TUNING set of phantom studies, never the evaluation seed. The engine analyses each study once; then every
// policy of a small grid is scored by per-level accuracy over L4-L5 and L5-S1 (indeterminate counts as wrong).

interface Case {
  truth: string;
  sag: LevelFinding['evidence']['sagittal'];
  axial: LevelFinding['evidence']['axial'];
}

export interface PolicyScore {
  policy: FusionPolicy;
  accuracy: number;
  indeterminate: number;
}

/** Every policy of the grid, scored on the cases, best first (ties: fewer indeterminate, then grid order). */
export function scorePolicies(cases: readonly Case[]): PolicyScore[] {
  const results: PolicyScore[] = [];
  for (const axialAggregate of ['mean', 'max-herniation'] as const)
    for (const sagittalAggregate of ['max', 'top2', 'mean'] as const)
      for (const sagittalWeight of [0, 0.2, 0.3, 0.4, 0.5])
        for (const maxDisagreement of [0.6, 0.8, 1.01])
          for (const minConfidence of [0.4, 0.5]) {
            const policy: FusionPolicy = {
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
                .filter((p): p is number => p !== null);
              const diagnosis = c.sag
                ? fuseLevel(
                    {
                      sagittalHerniation: aggregate(per, sagittalAggregate),
                      axial: axialLevelEvidence(c.axial, axialAggregate),
                    },
                    policy,
                  ).diagnosis
                : 'indeterminate';
              if (diagnosis === c.truth) ok++;
              if (diagnosis === 'indeterminate') indeterminate++;
            }
            results.push({
              policy,
              accuracy: ok / cases.length,
              indeterminate: indeterminate / cases.length,
            });
          }
  // a stable sort: equal scores keep grid order
  return results.sort((a, b) => b.accuracy - a.accuracy || a.indeterminate - b.indeterminate);
}

export function tuneFusionCommand(): Command {
  return new Command('tune-fusion')
    .description(
      'choose the fusion policy on a tuning set of phantom studies (never the evaluation seed): prints the best policies',
    )
    .argument('<phantom-dir>', 'a folder written by `lumbar phantom --out` (with truth.json)')
    .option('--models <dir>', 'models folder (default: the shipped models/, or LUMBAR_MODELS_DIR)')
    .option('--top <n>', 'how many policies to print', '8')
    .action(async (dir: string, o: { models?: string; top: string }) => {
      const top = Number(o.top);
      if (!Number.isInteger(top) || top < 1) throw new InputError(`--top ${o.top}: not a positive integer`);
      let truth: { studies: Array<{ dir: string; levels: Record<string, string> }> };
      try {
        truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8'));
      } catch (err) {
        throw new InputError(
          `${dir}: no readable truth.json (${(err as Error).message}): give a phantom folder`,
        );
      }
      const engine = await AnalysisEngine.open(analysisSettingsFromFlags({ models: o.models }));
      const cases: Case[] = [];
      try {
        for (const s of truth.studies) {
          const { result } = await engine.study(join(dir, s.dir));
          for (const l of result.levels)
            cases.push({ truth: s.levels[l.level], sag: l.evidence.sagittal, axial: l.evidence.axial });
        }
      } finally {
        await engine.close();
      }
      const results = scorePolicies(cases);
      process.stdout.write(`${cases.length} levels from ${truth.studies.length} studies in ${dir}\n`);
      for (const r of results.slice(0, top)) process.stdout.write(`${JSON.stringify(r)}\n`);
    });
}
