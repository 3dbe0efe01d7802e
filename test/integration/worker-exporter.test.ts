import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { createLogger } from '@lumbar/core';
import { queueExport, openQueues, redisConnection, type Queues } from '@lumbar/jobs';
import { resetExport } from '@lumbar/db';
import { startReceiver, type Receiver } from '@lumbar/receiver';
import { reconcile, startStudyWorker, type WorkerDeps } from '@lumbar/worker';
import { startExporter } from '@lumbar/exporter';
import { storescu } from '../helpers/dcmtk';
import { makeTmpDir } from '../helpers/files';
import { freePorts, startOrthanc, type OrthancPeer } from '../helpers/orthanc';
import { generatePhantom, studyDirs } from '../helpers/phantom';
import { useTestDatabase } from '../helpers/db';
import { testConfig } from '../helpers/services';
import { waitFor } from '../helpers/wait';

const t = useTestDatabase();
let orthanc: OrthancPeer;
let receiver: Receiver;
let queues: Queues;
let deps: WorkerDeps;
let workers: Array<{ close(): Promise<void> }> = [];
const conns: ReturnType<typeof redisConnection>[] = [];

beforeAll(async () => {
  orthanc = await startOrthanc({ aet: 'ORTHANC' });
  const config = testConfig(t.url, {
    LUMBAR_ALLOWED_CALLERS: 'STORESCU@127.0.0.1',
    LUMBAR_STABLE_SECONDS: '1',
    LUMBAR_DESTINATIONS: `ORTHANC@127.0.0.1:${orthanc.dicomPort}`,
    LUMBAR_EXPORT_ATTEMPTS: '2',
    LUMBAR_EXPORT_BACKOFF_MS: '100',
    LUMBAR_EXPORT_TIMEOUT_MS: '10000',
  });
  const producer = redisConnection(config.redisUrl, 'producer');
  const blocking = redisConnection(config.redisUrl, 'worker');
  conns.push(producer, blocking);
  queues = openQueues(producer, config.queuePrefix);
  const log = createLogger('test', 'silent');
  deps = { config, db: t.db, queues, log };
  receiver = await startReceiver({ config, db: t.db, queues, log });
  workers = [await startStudyWorker(deps, blocking), startExporter(deps, blocking)];
});

afterAll(async () => {
  await receiver?.close();
  for (const w of workers) await w.close();
  await queues?.studies.obliterate({ force: true }).catch(() => undefined);
  await queues?.exports.obliterate({ force: true }).catch(() => undefined);
  await queues?.close();
  for (const c of conns) c.disconnect();
  await orthanc?.stop();
});

describe('worker and exporter with real peers', () => {
  let analysisId: number;

  it('analyses a stable study once and sends SEG, SR and key images to the PACS (Orthanc)', async () => {
    const out = makeTmpDir('lumbar-wx-');
    await generatePhantom(out, 777, 1);
    const run = await storescu({
      port: receiver.port,
      aec: 'LUMBAR',
      aet: 'STORESCU',
      paths: [studyDirs(out)[0]],
    });
    expect(run.results.every((r) => r.status === 0)).toBe(true);
    const exp = await waitFor(
      'the export to succeed',
      async () => {
        const e = await t.db.export.findFirst({
          include: { analysis: { include: { outputs: true, findings: true } } },
        });
        return e?.status === 'succeeded' ? e : undefined;
      },
      90_000,
    );
    analysisId = exp.analysisId;
    // Debounce: one analysis, run once, for the whole study.
    const analyses = await t.db.analysis.findMany();
    expect(analyses).toHaveLength(1);
    expect(analyses[0].attempts).toBe(1);
    expect(analyses[0].status).toBe('succeeded');
    // Findings in the database are those of findings.json in the output folder.
    const doc = JSON.parse(readFileSync(path.join(analyses[0].outputDir!, 'findings.json'), 'utf8'));
    const byLevel = (xs: { level: string; diagnosis: string }[]) =>
      xs.map((x) => `${x.level}:${x.diagnosis}`).sort();
    expect(byLevel(exp.analysis.findings)).toEqual(byLevel(doc.levels));
    expect(exp.analysis.findings.map((f) => f.level).sort()).toEqual(['L4-L5', 'L5-S1']);
    // Orthanc holds every object we made, in the source study.
    const kinds = exp.analysis.outputs.map((o) => o.kind).sort();
    expect(kinds).toEqual(expect.arrayContaining(['sr', 'seg']));
    for (const o of exp.analysis.outputs) {
      expect(existsSync(path.join(analyses[0].outputDir!, o.file))).toBe(true);
      const found = await orthanc.rest<string[]>('/tools/lookup', { method: 'POST', body: o.sopInstanceUid });
      expect(found).toHaveLength(1);
    }
    expect(exp.attempts).toBe(1);
  });

  it('a re-analysis replaces its objects: same UIDs, no duplicate in the PACS', async () => {
    const before = await t.db.output.findMany({ where: { analysisId }, orderBy: { sopInstanceUid: 'asc' } });
    const countInOrthanc = async () => (await orthanc.rest<string[]>('/instances')).length;
    const orthancBefore = await countInOrthanc();
    const study = await t.db.study.findFirstOrThrow();
    await queues.studies.add(
      'study.reanalyze',
      { studyId: study.id },
      { jobId: `reanalyze-${study.id}-test` },
    );
    await waitFor(
      'the second analysis and its export',
      async () => {
        const a = await t.db.analysis.findUnique({ where: { id: analysisId }, include: { exports: true } });
        return a?.attempts === 2 &&
          a.status === 'succeeded' &&
          a.exports.every((e) => e.status === 'succeeded')
          ? a
          : undefined;
      },
      90_000,
    );
    const after = await t.db.output.findMany({ where: { analysisId }, orderBy: { sopInstanceUid: 'asc' } });
    expect(after.map((o) => o.sopInstanceUid)).toEqual(before.map((o) => o.sopInstanceUid));
    expect(await countInOrthanc()).toBe(orthancBefore);
    expect(await t.db.analysis.count()).toBe(1);
  });

  it('retries a destination that refuses connections, then marks the export failed with the reason', async () => {
    const port = (await freePorts(1))[0];
    const e = await t.db.export.create({ data: { analysisId, destination: `NOWHERE@127.0.0.1:${port}` } });
    await queueExport(queues, e.id, { attempts: 2, backoffMs: 100 });
    const failed = await waitFor('the export to fail', async () => {
      const x = await t.db.export.findUnique({ where: { id: e.id } });
      return x?.status === 'failed' ? x : undefined;
    });
    expect(failed.attempts).toBe(2);
    expect(failed.lastError).toMatch(/ECONNREFUSED|network error/i);

    // Re-drive once the destination is up (DCMTK storescp): the same export succeeds.
    const dir = makeTmpDir('lumbar-storescp-');
    const scp: ChildProcess = spawn('storescp', ['-aet', 'NOWHERE', '-od', dir, String(port)], {
      env: { ...process.env, TCP_NODELAY: '1' },
      stdio: 'ignore',
    });
    try {
      await waitFor('storescp to listen', async () => {
        return new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        });
      });
      const reset = await resetExport(t.db, e.id);
      expect(reset?.status).toBe('pending');
      await queueExport(queues, e.id, { attempts: 2, backoffMs: 100, generation: 'redrive-1' });
      const ok = await waitFor('the re-driven export to succeed', async () => {
        const x = await t.db.export.findUnique({ where: { id: e.id } });
        return x?.status === 'succeeded' ? x : undefined;
      });
      expect(ok.attempts).toBe(1);
      expect(ok.lastError).toBeNull();
    } finally {
      scp.kill();
    }
  });

  it('marks an export failed at once when the peer rejects the association permanently', async () => {
    // Our own receiver as the destination: its allow-list does not know the calling AE title LUMBAR.
    const e = await t.db.export.create({
      data: { analysisId, destination: `LUMBAR@127.0.0.1:${receiver.port}` },
    });
    await queueExport(queues, e.id, { attempts: 5, backoffMs: 100 });
    const failed = await waitFor('the export to fail', async () => {
      const x = await t.db.export.findUnique({ where: { id: e.id } });
      return x?.status === 'failed' ? x : undefined;
    });
    expect(failed.attempts).toBe(1);
    expect(failed.lastError).toMatch(/rejected/);
  });

  it('reconciler: re-queues a study whose job Redis lost', async () => {
    const study = await t.db.study.findFirstOrThrow();
    const runs = (await t.db.analysis.findFirstOrThrow({ where: { studyId: study.id } })).attempts;
    await queues.studies.obliterate({ force: true });
    await t.db.study.update({
      where: { id: study.id },
      data: { status: 'receiving', lastReceivedAt: new Date(Date.now() - 3_600_000) },
    });
    const r = await reconcile(deps);
    expect(r.studies).toBe(1);
    // The re-queued job finds the analysis newer than the last instance: it settles the study as analysed
    // without running inference again (idempotent), and the reconciler then finds nothing owed.
    await waitFor('the study to be settled', async () => {
      const s = await t.db.study.findUnique({ where: { id: study.id } });
      return s?.status === 'analyzed' ? s : undefined;
    });
    expect((await t.db.analysis.findFirstOrThrow({ where: { studyId: study.id } })).attempts).toBe(runs);
    expect((await reconcile(deps)).studies).toBe(0);
  });
});
