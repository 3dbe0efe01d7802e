import type { AddressInfo, Server as NetServer } from 'node:net';
import dimse from 'dcmjs-dimse';
import { readPem, type Config, type Logger } from '@lumbar/core';
import type { PrismaClient } from '@lumbar/db';
import type { Queues } from '@lumbar/jobs';
import { scpClass } from './scp';

export { STATUS, storeInstance, type StoreResult } from './store';

// dcmjs-dimse logs through its own loglevel copy: silenced, ours go through pino.
dimse.log.setLevel('silent');

export interface Receiver {
  /** The address and port it listens on (0.0.0.0 or :: = all interfaces). */
  address: string;
  port: number;
  /** Stops accepting associations; open ones are closed. */
  close(): Promise<void>;
}

/** DICOM TLS (PS3.15 B.1): the server's certificate and key; with a CA, callers must present a certificate. */
function tlsOptions(tls: Config['dicom']['tls']) {
  if (!tls) return undefined;
  const ca = tls.caFile ? readPem('LUMBAR_DICOM_TLS_CA', tls.caFile) : undefined;
  return {
    cert: readPem('LUMBAR_DICOM_TLS_CERT', tls.certFile),
    key: readPem('LUMBAR_DICOM_TLS_KEY', tls.keyFile),
    ca,
    requestCert: ca !== undefined,
    rejectUnauthorized: ca !== undefined,
    minVersion: 'TLSv1.2',
  };
}

/** Starts the C-ECHO / C-STORE SCP on config.dicom.host:port (TLS when configured). */
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
  // dcmjs-dimse hands its first argument to net/tls Server.listen(), which also takes { port, host }: that is
  // how the receiver binds one address (its typings say number).
  const where = { port: config.dicom.port, host: config.dicom.host } as unknown as number;
  server.listen(where, { securityOptions: tlsOptions(config.dicom.tls) });
  await listening;
  const net = (server as unknown as { server: NetServer }).server;
  const { port, address } = net.address() as AddressInfo;
  log.info(
    {
      aeTitle: config.dicom.aeTitle,
      host: config.dicom.host,
      port,
      tls: config.dicom.tls ? (config.dicom.tls.caFile ? 'mutual' : 'server') : 'off',
    },
    'DICOM receiver listening',
  );
  return {
    address,
    port,
    close: async () => {
      server.close();
      await new Promise<void>((r) => (net.listening ? net.close(() => r()) : r()));
    },
  };
}
