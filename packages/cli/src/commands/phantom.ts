import { Command, Option } from 'commander';
import { InputError } from '@lumbar/core';
import { PHANTOM_STYLES, PhantomStyle, generate } from '@lumbar/phantom';

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1) throw new InputError(`${name} must be a positive integer, got "${v}"`);
    return n;
  };
}

export function phantomCommand(): Command {
  return new Command('phantom')
    .description(
      'generate synthetic lumbar MR studies (DICOM + disc masks + truth.json), or a training layout',
    )
    .addOption(
      new Option(
        '--out <dir>',
        'write DICOM studies here: <dir>/<study>/<series>/*.dcm, masks, truth.json',
      ).conflicts('dataset'),
    )
    .addOption(
      new Option(
        '--dataset <dir>',
        'write the training layout here (images, masks, samples.csv, labels.csv)',
      ),
    )
    .option('--studies <n>', 'number of studies', positiveInt('--studies'), 1)
    .option('--seed <seed>', 'random seed: the same seed gives the same bytes', '1')
    .addOption(
      new Option(
        '--style <style>',
        'appearance: classic (the default, what the shipped models were trained on) or realistic (closer to real images, docs/PHANTOM.md)',
      )
        .choices(PHANTOM_STYLES)
        .default('classic'),
    )
    .option('--workers <n>', 'worker threads (default: one per core)', positiveInt('--workers'))
    .option('--quiet', 'print only the summary line')
    .action(
      async (opts: {
        out?: string;
        dataset?: string;
        studies: number;
        seed: string;
        workers?: number;
        style: PhantomStyle;
        quiet?: boolean;
      }) => {
        const out = opts.out ?? opts.dataset;
        if (!out) throw new InputError('give --out DIR (DICOM studies) or --dataset DIR (training layout)');
        const mode = opts.dataset ? 'dataset' : 'dicom';
        const t0 = Date.now();
        const res = await generate({
          out,
          studies: opts.studies,
          seed: opts.seed,
          mode,
          style: opts.style,
          workers: opts.workers,
        });
        const secs = ((Date.now() - t0) / 1000).toFixed(1);
        if (!opts.quiet) {
          for (const s of res.studies) {
            const levels = Object.entries(s.levels)
              .map(([l, c]) => `${l} ${c}`)
              .join(', ');
            process.stdout.write(
              `${s.dir}  ${s.patientId}  study ${s.studyInstanceUid}\n  truth: ${levels}\n`,
            );
            for (const se of s.series)
              process.stdout.write(
                `  ${se.folder.padEnd(22)} ${String(se.instances).padStart(3)} images  "${se.description}"\n`,
              );
          }
        }
        const extra = mode === 'dataset' ? `, ${res.samples} images, ${res.labels} disc labels` : '';
        process.stdout.write(
          `wrote ${res.studies.length} synthetic stud${res.studies.length === 1 ? 'y' : 'ies'} to ${out} in ${secs} s${extra}\n`,
        );
      },
    );
}
