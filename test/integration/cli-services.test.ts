import { spawn } from 'node:child_process';
import { verifyApiKey } from '@lumbar/db';
import { cliMain } from '../helpers/phantom';
import { runTool } from '../helpers/run';
import { databaseUrl, dropDatabase, useTestDatabase } from '../helpers/db';
import { testConfig } from '../helpers/services';
import { waitFor } from '../helpers/wait';

const t = useTestDatabase();
const lumbar = (args: string[], env: Record<string, string> = {}) =>
  runTool(process.execPath, [cliMain, ...args], { env: { ...process.env, ...env } });

describe('lumbar db / apikey / serve', () => {
  it('db migrate creates the database, applies the migrations once, then finds nothing to do', async () => {
    const name = `lumbar_cli_${process.pid}`;
    const env = { LUMBAR_DATABASE_URL: databaseUrl(name) };
    try {
      const first = await lumbar(['db', 'migrate'], env);
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/applied 1 migration\(s\): \d+_init; 0 already applied/);
      const second = await lumbar(['db', 'migrate'], env);
      expect(second.stdout).toMatch(/applied 0 migration\(s\); 1 already applied/);
    } finally {
      await dropDatabase(name);
    }
  });

  it('apikey create prints a key that verifies with its scopes; a bad scope is refused with a sentence', async () => {
    const run = await lumbar(['apikey', 'create', '--scope', 'read', '--name', 'ris'], {
      LUMBAR_DATABASE_URL: t.url,
    });
    expect(run.code).toBe(0);
    const key = run.stdout.trim();
    expect(key).toMatch(/^lk_[a-z0-9]{8}_[A-Za-z0-9_-]{32,}$/);
    expect(await verifyApiKey(t.db, key)).toEqual(['read']);
    const bad = await lumbar(['apikey', 'create', '--scope', 'root'], { LUMBAR_DATABASE_URL: t.url });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown scope root/);
  });

  it('serve refuses an unknown service and a bad setting with exit code 2 and a sentence', async () => {
    const unknown = await lumbar(['serve', 'pacs']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown service pacs/);
    const badPort = await lumbar(['serve', 'receiver'], { LUMBAR_DICOM_PORT: 'eleven' });
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toMatch(/LUMBAR_DICOM_PORT/);
  });

  it('analyze refuses a bad thread count with exit code 2 and a sentence', async () => {
    const dir = testConfig(t.url).dataDir;
    const run = await lumbar(['analyze', dir, '--out', dir, '--threads', '0']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--threads \/ LUMBAR_INTRA_OP_THREADS: "0" is not an integer from 1 to 64/);
  });

  it('serve starts the receiver and API and stops gracefully on SIGTERM', async () => {
    const config = testConfig(t.url);
    const child = spawn(process.execPath, [cliMain, 'serve', 'receiver', 'api'], {
      env: {
        ...process.env,
        LUMBAR_DATABASE_URL: t.url,
        LUMBAR_DATA_DIR: config.dataDir,
        LUMBAR_QUEUE_PREFIX: config.queuePrefix,
        LUMBAR_DICOM_PORT: '0',
        LUMBAR_API_PORT: '0',
        LUMBAR_API_HOST: '127.0.0.1',
        LUMBAR_LOG_LEVEL: 'info',
      },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const started = await waitFor('the start line', async () =>
      out
        .split('\n')
        .filter(Boolean)
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as { msg: string; ports?: { api: number; dicom: number } }];
          } catch {
            return []; // a line that is not a log record (a warning of a library)
          }
        })
        .find((l) => l.msg === 'lumbar-ai started'),
    );
    const health = await fetch(`http://127.0.0.1:${started.ports!.api}/healthz`);
    expect(health.status).toBe(200);
    child.kill('SIGTERM');
    const code = await exited;
    expect({ code, out: code === 0 ? '' : out }).toEqual({ code: 0, out: '' });
    expect(out).toMatch(/"msg":"stopped"/);
  });
});
