import { verifyApiKey } from '@lumbar/db';
import { readTag, storescu } from '../helpers/dcmtk';
import { findFiles, makeTmpDir } from '../helpers/files';
import { cliMain, generatePhantom, studyDirs } from '../helpers/phantom';
import { runTool } from '../helpers/run';
import { databaseUrl, dropDatabase, useTestDatabase } from '../helpers/db';
import { spawnServe, testConfig } from '../helpers/services';
import { serveEnv } from '../helpers/serve-env';
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
      expect(first.stdout).toMatch(/applied \d+ migration\(s\): \d+_init(, \d+_[a-z0-9_]+)*; 0 already/);
      const second = await lumbar(['db', 'migrate'], env);
      const count = /applied (\d+) migration/.exec(first.stdout)![1];
      expect(second.stdout).toBe(`applied 0 migration(s); ${count} already applied\n`);
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
    const node = spawnServe(['receiver', 'api'], serveEnv(t.url, { LUMBAR_API_HOST: '127.0.0.1' }));
    const started = await node.started();
    const health = await fetch(`http://127.0.0.1:${started.ports!.api}/healthz`);
    expect(health.status).toBe(200);
    node.child.kill('SIGTERM');
    const code = await node.exited;
    expect({ code, out: code === 0 ? '' : node.output() }).toEqual({ code: 0, out: '' });
    expect(node.output()).toMatch(/"msg":"stopped"/);
  });
  it('serve logs a received and analysed study at info level without its patient name, ID or birth date', async () => {
    const phantom = makeTmpDir('lumbar-logs-');
    await generatePhantom(phantom, 31337, 1);
    const study = studyDirs(phantom)[0];
    const files = findFiles(study, '.dcm');
    const identity = {
      name: await readTag(files[0], '0010,0010'),
      id: await readTag(files[0], '0010,0020'),
      birth: await readTag(files[0], '0010,0030'),
      studyUid: await readTag(files[0], '0020,000d'),
    };
    for (const v of Object.values(identity)) expect((v ?? '').length).toBeGreaterThan(3);
    const node = spawnServe(
      [],
      serveEnv(t.url, { LUMBAR_STABLE_SECONDS: '1', LUMBAR_ALLOWED_CALLERS: 'STORESCU@127.0.0.1' }),
    );
    const { records } = node;
    try {
      const started = await node.started();
      const sent = await storescu({
        port: started.ports!.dicom,
        aec: 'LUMBAR',
        aet: 'STORESCU',
        paths: files,
      });
      expect(sent.results.every((r) => r.status === 0)).toBe(true);
      await waitFor(
        'the study analysed',
        async () => records().find((l) => l.msg === 'study analysed'),
        180_000,
      );
    } finally {
      node.child.kill('SIGTERM');
      await node.exited;
    }
    const out = node.output();
    // the logs speak of the study (associations, the analysis) ...
    expect(records().filter((l) => l.msg === 'association accepted').length).toBeGreaterThan(0);
    // ... and never name its patient
    for (const [what, value] of Object.entries({
      name: identity.name,
      id: identity.id,
      birth: identity.birth,
    })) {
      const parts = value!.split('^').filter((p) => p.length > 3 && p !== 'PHANTOM');
      for (const p of [value!, ...parts])
        expect({ what, found: out.includes(p) }).toEqual({ what, found: false });
    }
  }, 300_000);
});
