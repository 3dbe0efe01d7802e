import type { AddressInfo, Server as NetServer } from 'node:net';
import dimse from 'dcmjs-dimse';
import { readPem, type Config, type Logger } from '@lumbar/core';
import { openSqlRunner, type PrismaClient } from '@lumbar/db';
import type { Queues } from '@lumbar/jobs';
import { openObjectStore } from '@lumbar/storage';
import { createLeanServer } from './dimse/server';
import { scpClass, type ScpContext } from './scp';
import { storeContext } from './store';

export { STATUS, storeInstance, type StoreResult } from './store';

// dcmjs-dimse logs through its own loglevel copy: silenced, ours go through pino.
dimse.log.setLevel('silent');

export interface Receiver {
  /** The address and port it listens on (127.0.0.1 by default; 0.0.0.0 or :: = all interfaces). */
  address: string;
  port: number;
  /**
   * Stops accepting connections at once, lets the open associations finish (their senders release them) for up to
   * `graceMs` (default DRAIN_GRACE_MS), then closes whatever is still open. Every instance acknowledged (0x0000)
   * was stored before its response, so nothing acknowledged is lost either way.
   */
  close(graceMs?: number): Promise<{ drained: number; cut: number }>;
}

/** How long close() waits for open associations to be released before it closes them. */
export const DRAIN_GRACE_MS = 15_000;

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
    minVersion: 'TLSv1.2' as const,
  };
}

/** A listening SCP: its net/tls server, when it listens, and how to close what is still open. */
interface Listener {
  server: NetServer;
  listening: Promise<void>;
  /** Stops listening (if not yet) and closes every connection still open. */
  closeAll(): void;
}

/** LUMBAR_DICOM_SCP=dcmjs-dimse: the npm package's Server with the SCP class of scp.ts. */
function dcmjsScp(ctx: ScpContext, config: Config): Listener {
  const server = new dimse.Server(scpClass(ctx));
  const listening = new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('networkError', (err: Error) => reject(err));
  });
  server.on('networkError', (err: Error) => ctx.log.warn({ err: err.message }, 'DICOM network error'));
  // dcmjs-dimse hands its first argument to net/tls Server.listen(), which also takes { port, host }: that is
  // how the receiver binds one address (its typings say number).
  const where = { port: config.dicom.port, host: config.dicom.host } as unknown as number;
  server.listen(where, { securityOptions: tlsOptions(config.dicom.tls) });
  return {
    server: (server as unknown as { server: NetServer }).server,
    listening,
    closeAll: () => server.close(),
  };
}

/** LUMBAR_DICOM_SCP=lean: the receiver's own PS3.8/PS3.7 layer on node:net / node:tls (./dimse). */
function leanScp(ctx: ScpContext, config: Config): Listener {
  const { server, destroyAll } = createLeanServer(ctx, tlsOptions(config.dicom.tls));
  const listening = new Promise<void>((resolve, reject) => {
    server.once('listening', () => resolve());
    server.once('error', reject);
  });
  server.on('error', (err: Error) => ctx.log.warn({ err: err.message }, 'DICOM network error'));
  server.listen({ port: config.dicom.port, host: config.dicom.host });
  return {
    server,
    listening,
    closeAll: () => {
      if (server.listening) server.close();
      destroyAll();
    },
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
  const active = new Set<object>();
  // The instances' statement goes through a pg pool of its own (no ORM on the hot path; see recordInstances).
  const sql = openSqlRunner(config.databaseUrl, Math.min(4, config.dicom.maxAssociations));
  // LUMBAR_STORAGE=s3: every instance also goes into the bucket before it is acknowledged (replicate.ts)
  const objects = openObjectStore(config.storage);
  const ctx = {
    ...storeContext({
      db: deps.db,
      sql,
      queues: deps.queues,
      log,
      dataDir: config.dataDir,
      stableMs: config.stableSeconds * 1000,
      objects,
    }),
    dicom: config.dicom,
    active,
  };
  const scp = config.dicom.scp === 'lean' ? leanScp(ctx, config) : dcmjsScp(ctx, config);
  await scp.listening.catch(async (err: unknown) => {
    await sql.end().catch(() => undefined);
    objects?.close();
    throw err;
  });
  const net = scp.server;
  const { port, address } = net.address() as AddressInfo;
  log.info(
    {
      aeTitle: config.dicom.aeTitle,
      host: config.dicom.host,
      port,
      tls: config.dicom.tls ? (config.dicom.tls.caFile ? 'mutual' : 'server') : 'off',
      scp: config.dicom.scp,
      // link/unlink/rename in the data folder: synchronous on a local file system, else the thread pool
      dataFolder: ctx.calls.synchronous ? 'local' : 'network or unknown file system',
    },
    'DICOM receiver listening',
  );
  return {
    address,
    port,
    close: async (graceMs = DRAIN_GRACE_MS) => {
      // 1. no new connection: the listening socket closes now (a sender trying to connect is refused)
      const closed = new Promise<void>((r) => (net.listening ? net.close(() => r()) : r()));
      // 2. the open associations finish and release, within the grace period
      const open = active.size;
      const deadline = Date.now() + graceMs;
      while (active.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      const cut = active.size;
      if (open > 0)
        log[cut ? 'warn' : 'info'](
          { drained: open - cut, cut, graceMs },
          cut ? 'associations still open at shutdown: closed' : 'open associations finished before shutdown',
        );
      // 3. whatever is left (an idle association held open past the grace period) is closed
      scp.closeAll();
      await closed;
      await sql.end().catch(() => undefined);
      objects?.close();
      return { drained: open - cut, cut };
    },
  };
}
