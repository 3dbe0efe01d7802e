#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ALGORITHM, LumbarError } from '@lumbar/core';
import { analyzeCommand } from './commands/analyze';
import { evaluateCommand } from './commands/evaluate';
import { finetuneCommand } from './commands/finetune';
import { phantomCommand } from './commands/phantom';
import { apikeyCommand, dbCommand } from './commands/db';
import { serveCommand } from './commands/serve';
import { tuneFusionCommand } from './commands/tune-fusion';
import { validateCommand } from './commands/validate';

export function buildProgram(): Command {
  const program = new Command('lumbar')
    .description(
      `${ALGORITHM.name} ${ALGORITHM.version}: lumbar spine MRI disc herniation node. ${ALGORITHM.disclaimer}`,
    )
    .version(ALGORITHM.version)
    .exitOverride();
  for (const cmd of [
    analyzeCommand(),
    evaluateCommand(),
    finetuneCommand(),
    validateCommand(),
    tuneFusionCommand(),
    phantomCommand(),
    serveCommand(),
    dbCommand(),
    apikeyCommand(),
  ])
    program.addCommand(cmd.exitOverride());
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof LumbarError) {
      // Our own failures inside an analysis are not the user's input: exit 1, with the code to report.
      if (err.code === 'INTERNAL' || err.code === 'INVALID_OUTPUT') {
        process.stderr.write(`lumbar: analysis failed (${err.code}): ${err.message}\n`);
        return 1;
      }
      process.stderr.write(`lumbar: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(
      `lumbar: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
