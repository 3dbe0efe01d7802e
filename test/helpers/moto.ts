import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePorts } from './orthanc';
import { waitFor } from './wait';

/**
 * moto's server mode (PyPI `moto[server]`, in training/requirements.txt, installed into training/.venv by
 * scripts/setup.sh): a real S3 API on loopback, started by the tests of the object store (packages/storage,
 * test/integration/scale-out). Its state is in memory: gone when it stops.
 */
export const MOTO_SERVER = path.join(__dirname, '..', '..', 'training', '.venv', 'bin', 'moto_server');

/**
 * `describe`, or `describe.skip` with a printed reason when moto_server is not installed and this is not CI.
 * In CI (CI set) the tests always run: a missing moto_server fails them (startMoto says how to install it).
 */
export function describeWithMoto(name: string, fn: () => void): void {
  if (existsSync(MOTO_SERVER) || process.env.CI) {
    describe(name, fn);
    return;
  }
  console.warn(
    `SKIPPED "${name}": ${MOTO_SERVER} is missing (CI is not set). Install it: ` +
      `training/.venv/bin/pip install -r training/requirements.txt (or bash scripts/setup.sh)`,
  );
  describe.skip(name, fn);
}

/** Credentials moto accepts (any). */
export const MOTO_KEY = { accessKeyId: 'lumbar-test', secretAccessKey: 'lumbar-test-secret' };

export interface Moto {
  endpoint: string;
  port: number;
  /** A client for the test's own look at the bucket. */
  client: S3Client;
  createBucket(name: string): Promise<void>;
  /** The LUMBAR_ settings of a service that stores into `bucket` (under `prefix`) on this server. */
  env(bucket: string, prefix?: string): Record<string, string>;
  stop(): Promise<void>;
}

/** Starts moto_server on a free loopback port and waits until it answers. */
export async function startMoto(): Promise<Moto> {
  if (!existsSync(MOTO_SERVER))
    throw new Error(
      `${MOTO_SERVER} is missing: training/.venv/bin/pip install -r training/requirements.txt (moto[server])`,
    );
  const [port] = await freePorts(1);
  const endpoint = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    await waitFor(
      `moto_server on ${endpoint}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`moto_server exited (${child.exitCode}): ${log}`);
        return fetch(`${endpoint}/moto-api/`).then(
          (r) => r.status > 0,
          () => false,
        );
      },
      30_000,
      100,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: MOTO_KEY,
  });
  return {
    endpoint,
    port,
    client,
    createBucket: async (name) => {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    env: (bucket, prefix) => ({
      LUMBAR_STORAGE: 's3',
      LUMBAR_S3_ENDPOINT: endpoint,
      LUMBAR_S3_BUCKET: bucket,
      LUMBAR_S3_REGION: 'us-east-1',
      LUMBAR_S3_ACCESS_KEY_ID: MOTO_KEY.accessKeyId,
      LUMBAR_S3_SECRET_ACCESS_KEY: MOTO_KEY.secretAccessKey,
      ...(prefix ? { LUMBAR_S3_PREFIX: prefix } : {}),
    }),
    stop: async () => {
      client.destroy();
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
