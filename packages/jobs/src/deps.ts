import type { Config, Logger } from '@lumbar/core';
import type { PrismaClient } from '@lumbar/db';
import type { Queues } from './index';

/**
 * What every job handler of a node gets (the analysis worker's and the exporter's alike): I/O behind these,
 * nothing global.
 */
export interface WorkerDeps {
  config: Config;
  db: PrismaClient;
  queues: Queues;
  log: Logger;
}
