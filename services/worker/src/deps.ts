import type { Config, Logger } from '@lumbar/core';
import type { PrismaClient } from '@lumbar/db';
import type { Queues } from '@lumbar/jobs';

/** What every handler gets: I/O behind these, nothing global. */
export interface WorkerDeps {
  config: Config;
  db: PrismaClient;
  queues: Queues;
  log: Logger;
}
