import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLogger, type Config } from '@lumbar/core';
import type { PrismaClient } from '@lumbar/db';
import { readPart10 } from '@lumbar/dicom';
import { openQueues, redisConnection, type Queues } from '@lumbar/jobs';
import { startReceiver, type Receiver } from '@lumbar/receiver';
import { exportTlsOptions } from '@lumbar/exporter';
import { findFiles, makeTmpDir } from './files';
import { generatePhantom, studyDirs } from './phantom';
import { runTool } from './run';
import { testConfig } from './services';

/** What a test file's DICOM tests share: a receiver on its own queues, and one phantom study to send. */
export interface TestReceiver {
  config: Config;
  redis: ReturnType<typeof redisConnection>;
  queues: Queues;
  receiver: Receiver;
  /** The phantom study's folder and its .dcm files. */
  study: string;
  files: string[];
  close(): Promise<void>;
}

/** Starts a receiver with `env` (queues of its own, Redis as a producer) and makes phantom study `seed`. */
export async function startTestReceiver(
  t: { url: string; db: PrismaClient },
  env: Record<string, string>,
  seed = 4242,
): Promise<TestReceiver> {
  const config = testConfig(t.url, env);
  const redis = redisConnection(config.redisUrl, 'producer');
  const queues = openQueues(redis, config.queuePrefix);
  const receiver = await startReceiver({ config, db: t.db, queues, log: createLogger('receiver', 'silent') });
  const out = makeTmpDir('lumbar-rx-');
  await generatePhantom(out, seed, 1);
  const study = studyDirs(out)[0];
  return {
    config,
    redis,
    queues,
    receiver,
    study,
    files: findFiles(study, '.dcm'),
    close: async () => {
      await receiver?.close();
      await queues?.studies.obliterate({ force: true }).catch(() => undefined);
      await queues?.close();
      redis?.disconnect();
    },
  };
}

/**
 * A test CA and two certificates it signs (the receiver's and a caller's), made with openssl, and a CA that
 * signed nothing here (a peer trusting only it must refuse our receiver); the folder they are in.
 */
export async function makeTestPki(): Promise<string> {
  const pki = makeTmpDir('lumbar-pki-');
  writeFileSync(path.join(pki, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  const openssl = async (...args: string[]) => {
    const r = await runTool('openssl', args, { cwd: pki });
    if (r.code !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
  };
  const key = (name: string) => ['-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`];
  const selfSignedCa = (name: string) =>
    openssl('req', '-x509', ...key(name), '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`);
  await selfSignedCa('ca');
  for (const who of ['server', 'client']) {
    await openssl('req', ...key(who), '-out', `${who}.csr`, '-subj', `/CN=lumbar-test-${who}`);
    // signed by ca; the exporter checks the receiver's address against the certificate (san.ext)
    const sign = ['-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-extfile', 'san.ext'];
    await openssl('x509', '-req', '-in', `${who}.csr`, ...sign, '-out', `${who}.pem`, '-days', '2');
  }
  // a CA that signed nothing here: a peer trusting only it must refuse our receiver
  await selfSignedCa('other-ca');
  return pki;
}

/** Runs `body` with a receiver of `env` (callers: STORESCU@127.0.0.1) on its port, closed afterwards. */
export async function withTlsReceiver(
  t: { url: string; db: PrismaClient },
  queues: Queues,
  env: Record<string, string>,
  body: (port: number) => Promise<void>,
) {
  const config = testConfig(t.url, { LUMBAR_ALLOWED_CALLERS: 'STORESCU@127.0.0.1', ...env });
  const rx = await startReceiver({ config, db: t.db, queues, log: createLogger('rx', 'silent') });
  try {
    await body(rx.port);
  } finally {
    await rx.close();
  }
}

/** The exporter's TLS options: trust `caFile`; with `mutual`, present the caller certificate of `pki` too. */
export const exportTrust = (pki: string, caFile: string, mutual = false) =>
  exportTlsOptions({
    caFile,
    certFile: mutual ? path.join(pki, 'client.pem') : null,
    keyFile: mutual ? path.join(pki, 'client.key') : null,
    destinations: null,
  });

/** The instance row stored for the DICOM file `f` (by its SOP Instance UID), or null. */
export const instanceRowFor = async (db: PrismaClient, f: string) =>
  db.instance.findFirst({
    where: { sopInstanceUid: String(readPart10(readFileSync(f), f, { headerOnly: true }).SOPInstanceUID) },
  });
