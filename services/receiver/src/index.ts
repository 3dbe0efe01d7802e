import type { AddressInfo, Server as NetServer } from 'node:net';
import dimse from 'dcmjs-dimse';
import type { Config, Logger } from '@lumbar/core';
import type { PrismaClient } from '@lumbar/db';
import type { Queues } from '@lumbar/jobs';
import { scpClass } from './scp';

export { STATUS, storeInstance, type StoreResult } from './store';

// dcmjs-dimse logs through its own loglevel copy: silenced, ours go through pino.
dimse.log.setLevel('silent');

export interface Receiver {
  port: number;
  /** Stops accepting associations; open ones are closed. */
  close(): Promise<void>;
}

/** Starts the C-ECHO / C-STORE SCP on config.dicom.port (all interfaces). */
export async function startReceiver(deps: {
  config: Config;
  db: PrismaClient;
  queues: Queues;
  log: Logger;
}): Promise<Receiver> {
  const { config, log } = deps;
  const Scp = scpClass({
    db: deps.db,
    queues: deps.queues,
    log,
    dataDir: config.dataDir,
    stableMs: config.stableSeconds * 1000,
    dicom: config.dicom,
    active: new Set(),
  });
  const server = new dimse.Server(Scp);
  const listening = new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('networkError', (err: Error) => reject(err));
  });
  server.on('networkError', (err: Error) => log.warn({ err: err.message }, 'DICOM network error'));
  server.listen(config.dicom.port);
  await listening;
  const net = (server as unknown as { server: NetServer }).server;
  const port = (net.address() as AddressInfo).port;
  log.info({ aeTitle: config.dicom.aeTitle, port }, 'DICOM receiver listening');
  return {
    port,
    close: async () => {
      server.close();
      await new Promise<void>((r) => (net.listening ? net.close(() => r()) : r()));
    },
  };
}
