import { createServer, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { serve, StartupError } from '@lumbar/server';
import { cliMain } from '../helpers/phantom';
import { makeTmpDir } from '../helpers/files';
import { runTool } from '../helpers/run';
import { useTestDatabase } from '../helpers/db';

const t = useTestDatabase();

/** Listens on 127.0.0.1 (port 0: a free one); the caller closes it. */
function hold(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}
const portOf = (s: Server) => (s.address() as { port: number }).port;
const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));

/** A port nothing listens on (free now: a connection to it is refused). */
async function closedPort(): Promise<number> {
  const s = await hold();
  const port = portOf(s);
  await close(s);
  return port;
}

/** Whether the port can be listened on again, i.e. nobody is left listening there. */
async function isFree(port: number): Promise<boolean> {
  try {
    await close(await hold(port));
    return true;
  } catch {
    return false;
  }
}

async function env(extra: Record<string, string>): Promise<Record<string, string>> {
  return {
    LUMBAR_DATABASE_URL: t.url,
    LUMBAR_DATA_DIR: makeTmpDir('lumbar-startup-'),
    LUMBAR_QUEUE_PREFIX: `lumbar-test-${randomBytes(4).toString('hex')}`,
    LUMBAR_DICOM_HOST: '127.0.0.1',
    LUMBAR_API_HOST: '127.0.0.1',
    LUMBAR_DICOM_PORT: String(await closedPort()),
    LUMBAR_API_PORT: String(await closedPort()),
    LUMBAR_LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** `lumbar serve` (all services) with these settings: it must give up on its own, exit 2 and say why. */
async function failedStart(settings: Record<string, string>) {
  const started = Date.now();
  const run = await runTool(process.execPath, [cliMain, 'serve'], {
    env: { ...process.env, ...settings },
    timeoutMs: 20_000,
  });
  const seconds = (Date.now() - started) / 1000;
  expect({ timedOut: run.timedOut, code: run.code }).toEqual({ timedOut: false, code: 2 });
  expect(seconds).toBeLessThan(10);
  expect(run.stdout).not.toMatch(/lumbar-ai started/);
  expect(run.stderr).not.toMatch(/unexpected error/);
  // Nothing left listening on the ports it was given.
  for (const v of ['LUMBAR_DICOM_PORT', 'LUMBAR_API_PORT'] as const) {
    if (v !== settings.TAKEN) expect(await isFree(Number(settings[v]))).toBe(true);
  }
  return run.stderr.trim().split('\n').pop()!;
}

describe('lumbar serve: a fatal start-up error stops the start, exits 2 and names the cause', () => {
  it('DICOM port taken: the sentence names the address and LUMBAR_DICOM_PORT', async () => {
    const taken = await hold();
    try {
      const e = await env({ LUMBAR_DICOM_PORT: String(portOf(taken)), TAKEN: 'LUMBAR_DICOM_PORT' });
      expect(await failedStart(e)).toBe(
        `lumbar: cannot listen on 127.0.0.1:${portOf(taken)} for DICOM (LUMBAR_DICOM_PORT): address already in use`,
      );
    } finally {
      await close(taken);
    }
  });

  it('API port taken: the sentence names LUMBAR_API_PORT', async () => {
    const taken = await hold();
    try {
      const e = await env({ LUMBAR_API_PORT: String(portOf(taken)), TAKEN: 'LUMBAR_API_PORT' });
      expect(await failedStart(e)).toBe(
        `lumbar: cannot listen on 127.0.0.1:${portOf(taken)} for the API (LUMBAR_API_PORT): address already in use`,
      );
    } finally {
      await close(taken);
    }
  });

  it('malformed LUMBAR_BOOTSTRAP_API_KEY: refused before anything opens, the key not echoed', async () => {
    const line = await failedStart(await env({ LUMBAR_BOOTSTRAP_API_KEY: 'lk_secret' }));
    expect(line).toMatch(
      /^lumbar: LUMBAR_BOOTSTRAP_API_KEY: not an API key \(9 characters\): it must look like lk_/,
    );
    expect(line).not.toMatch(/lk_secret/);
  });

  it('PostgreSQL unreachable: the sentence names LUMBAR_DATABASE_URL, without the password', async () => {
    const port = await closedPort();
    const line = await failedStart(
      await env({ LUMBAR_DATABASE_URL: `postgresql://postgres:hunter2@127.0.0.1:${port}/lumbar` }),
    );
    expect(line).toBe(
      `lumbar: cannot reach PostgreSQL at postgresql://postgres:***@127.0.0.1:${port}/lumbar (LUMBAR_DATABASE_URL): ` +
        `connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });

  it('Redis unreachable: the sentence names LUMBAR_REDIS_URL, without the password', async () => {
    const port = await closedPort();
    const line = await failedStart(await env({ LUMBAR_REDIS_URL: `redis://:hunter2@127.0.0.1:${port}` }));
    expect(line).toBe(
      `lumbar: cannot reach Redis at redis://:***@127.0.0.1:${port} (LUMBAR_REDIS_URL): connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });

  it('models folder missing (the worker runs): the sentence names LUMBAR_MODELS_DIR', async () => {
    const dir = `${makeTmpDir('lumbar-startup-')}/no-models`;
    expect(await failedStart(await env({ LUMBAR_MODELS_DIR: dir }))).toBe(
      `lumbar: LUMBAR_MODELS_DIR: cannot read the models folder "${dir}" (no such folder)`,
    );
  });

  it('in process: the API started before the receiver failed is closed again, the error names the port', async () => {
    const taken = await hold();
    try {
      const e = await env({ LUMBAR_DICOM_PORT: String(portOf(taken)), LUMBAR_LOG_LEVEL: 'silent' });
      const err = await serve(['api', 'receiver'], e).then(
        () => null,
        (x: unknown) => x,
      );
      expect(err).toBeInstanceOf(StartupError);
      expect((err as Error).message).toMatch(/for DICOM \(LUMBAR_DICOM_PORT\): address already in use/);
      expect(await isFree(Number(e.LUMBAR_API_PORT))).toBe(true);
    } finally {
      await close(taken);
    }
  });
});
