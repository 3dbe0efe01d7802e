import { Command } from 'commander';
import { InputError } from '@lumbar/core';
import type { ServiceName } from '@lumbar/server';

/** After a failed start, the longest wait for the event loop to empty before exiting anyway. */
const FORCE_EXIT_MS = 3000;

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
      let running: Awaited<ReturnType<typeof serve>>;
      try {
        running = await serve(names.length ? (names as ServiceName[]) : NAMES);
      } catch (err) {
        // serve() closed what it had opened; should a library still hold the event loop, do not run on
        // half-started: exit anyway (2, as main() does for the sentence it is about to print).
        setTimeout(() => process.exit(2), FORCE_EXIT_MS).unref();
        throw err;
      }
      await new Promise<void>((resolve, reject) => {
        const onSignal = (signal: string) => {
          running.log.info({ signal }, 'shutting down');
          void running.stop().then(resolve, reject);
        };
        process.once('SIGTERM', () => onSignal('SIGTERM'));
        process.once('SIGINT', () => onSignal('SIGINT'));
      });
    });
}
