import { Command } from 'commander';
import { InputError } from '@lumbar/core';
import type { ServiceName } from '@lumbar/server';

const NAMES: readonly ServiceName[] = ['receiver', 'worker', 'exporter', 'api'];

/** `lumbar serve [service...]`: receiver, worker, exporter and API in this process (all by default). */
export function serveCommand(): Command {
  return new Command('serve')
    .description(
      `run the services (${NAMES.join(', ')}; all when none is named) until SIGTERM; settings from the ` +
        'environment (docs/CONFIGURATION.md)',
    )
    .argument('[services...]', 'which services to run')
    .action(async (names: string[]) => {
      const unknown = names.filter((n) => !(NAMES as readonly string[]).includes(n));
      if (unknown.length) {
        throw new InputError(`unknown service ${unknown.join(', ')}: choose from ${NAMES.join(', ')}`);
      }
      // Loaded here, not at the top: analyze, phantom and evaluate need none of the services' modules.
      const { serve } = await import('@lumbar/server');
      const running = await serve(names.length ? (names as ServiceName[]) : NAMES);
      await new Promise<void>((resolve) => {
        const onSignal = (signal: string) => {
          running.log.info({ signal }, 'shutting down');
          void running.stop().then(resolve);
        };
        process.once('SIGTERM', () => onSignal('SIGTERM'));
        process.once('SIGINT', () => onSignal('SIGINT'));
      });
    });
}
