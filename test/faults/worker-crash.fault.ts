import { useTestDatabase } from '../helpers/db';
import { findFiles, makeTmpDir, removeDir } from '../helpers/files';
import { freePorts } from '../helpers/orthanc';
import { generatePhantom, studyDirs } from '../helpers/phantom';
import { waitFor } from '../helpers/wait';
import {
  createPacs,
  note,
  sendFiles,
  sleep,
  startNode,
  startRedis,
  type NodeProcess,
  type Pacs,
  type RedisServer,
} from './lib';
import { isAlive } from '../helpers/run';

// Case 2, worker crash. `lumbar serve receiver exporter` runs throughout; the analysis runs in a separate
// `lumbar serve worker`. (a) The analysis process is SIGKILLed mid-analysis: the pool replaces it and tries the
// study again. (b) The worker itself is SIGKILLed mid-analysis (its analysis processes must go with it), then
// started again: BullMQ's stalled-job check hands the study to the new worker. Either way the study ends
// analysed, once: one analysis row per study and algorithm version, and the PACS (Orthanc, counted by Modality
// through /tools/find) holds exactly one SR and one SEG per analysed source series; the export went out once.

const t = useTestDatabase();
let redis: RedisServer;
let pacs: Pacs;
let phantom: string;
let studies: string[];
let dataDir: string;
let env: Record<string, string>;
let front: NodeProcess;
let dicomPort: number;

beforeAll(async () => {
  [redis, pacs] = await Promise.all([startRedis(), createPacs('ORTHANC')]);
  phantom = makeTmpDir('faults-wk-phantom');
  await generatePhantom(phantom, 2702, 2);
  studies = studyDirs(phantom);
  dataDir = makeTmpDir('faults-wk-data');
  [dicomPort] = await freePorts(1);
  env = {
    LUMBAR_DATABASE_URL: t.url,
    LUMBAR_REDIS_URL: redis.url,
    LUMBAR_QUEUE_PREFIX: 'faults-wk',
    LUMBAR_DATA_DIR: dataDir,
    LUMBAR_DICOM_PORT: String(dicomPort),
    LUMBAR_API_PORT: '0',
    LUMBAR_ALLOWED_CALLERS: 'FAULTS@127.0.0.1',
    LUMBAR_STABLE_SECONDS: '1',
    LUMBAR_RECONCILE_SECONDS: '2',
    LUMBAR_DESTINATIONS: `ORTHANC@127.0.0.1:${pacs.dicomPort}`,
    LUMBAR_EXPORT_ATTEMPTS: '3',
    LUMBAR_EXPORT_BACKOFF_MS: '500',
    LUMBAR_EXPORT_TIMEOUT_MS: '20000',
    LUMBAR_ANALYSIS_TIMEOUT_MS: '60000',
  };
  front = startNode(['receiver', 'exporter'], env);
  await front.started();
}, 120_000);

afterAll(async () => {
  await front?.stop();
  await pacs?.destroy();
  await redis?.kill();
  if (phantom) removeDir(phantom);
  if (dataDir) removeDir(dataDir);
});

/** Sends one study; returns its Study Instance UID and database id once the analysis runs. */
async function sendAndWaitRunning(dir: string) {
  const sent = await sendFiles(dicomPort, findFiles(dir, '.dcm'));
  expect(sent.statuses.every((s) => s === 0)).toBe(true);
  const running = await waitFor(
    'the analysis to run',
    async () =>
      (await t.db.analysis.findFirst({ where: { status: 'running' }, include: { study: true } })) ??
      undefined,
    60_000,
    20,
  );
  return running;
}

/** The study is analysed once and its objects reach the PACS exactly once. */
async function expectAnalysedOnce(studyId: number, studyInstanceUid: string, timeoutMs: number) {
  const exp = await waitFor(
    'the study analysed and exported',
    async () => {
      const e = await t.db.export.findFirst({
        where: { analysis: { studyId } },
        include: { analysis: { include: { outputs: true } } },
      });
      return e?.status === 'succeeded' ? e : undefined;
    },
    timeoutMs,
    250,
  );
  const analyses = await t.db.analysis.findMany({ where: { studyId } });
  expect(analyses.map((a) => [a.algorithmVersion, a.status])).toEqual([
    [analyses[0].algorithmVersion, 'succeeded'],
  ]);
  expect((await t.db.study.findUniqueOrThrow({ where: { id: studyId } })).status).toBe('analyzed');
  expect(await t.db.export.count({ where: { analysis: { studyId } } })).toBe(1);
  const segs = exp.analysis.outputs.filter((o) => o.kind === 'seg');
  const srs = exp.analysis.outputs.filter((o) => o.kind === 'sr');
  expect(srs).toHaveLength(1);
  // one SEG per analysed source series (sagittal, axial), each series once
  expect(new Set(segs.map((o) => o.view)).size).toBe(segs.length);
  expect(segs.length).toBeGreaterThanOrEqual(1);
  // give a duplicate send (a second export job) the time to arrive before counting
  await sleep(3000);
  const counts = await pacs.countByModality(studyInstanceUid);
  expect({ SEG: counts.SEG, SR: counts.SR }).toEqual({ SEG: segs.length, SR: 1 });
  return exp;
}

describe('worker crash mid-analysis', () => {
  it('(a) the analysis process is killed: the pool tries again, the study is analysed and exported once', async () => {
    const worker = startNode(['worker'], env);
    try {
      await worker.started();
      const pids = worker
        .records()
        .flatMap((r) => (r.msg === 'analysis process ready' && r.pid ? [r.pid] : []));
      expect(pids).toHaveLength(1);
      const running = await sendAndWaitRunning(studies[0]);
      await sleep(Math.floor(Math.random() * 1000));
      process.kill(pids[0], 'SIGKILL');
      expect((await t.db.analysis.findUniqueOrThrow({ where: { id: running.id } })).status).toBe('running');
      const t0 = Date.now();
      await expectAnalysedOnce(running.studyId, running.study.studyInstanceUid, 90_000);
      note(
        `worker crash (a): analysis process killed, study analysed and exported ${Date.now() - t0} ms later`,
      );
      expect(worker.output()).toMatch(/CRASHED|crashed|exited/);
    } finally {
      expect(await worker.stop()).toBe(0);
    }
  }, 180_000);

  it('(b) the worker is killed: its analysis processes go too, and after a restart the study is analysed once', async () => {
    const worker = startNode(['worker'], env);
    await worker.started();
    const pids = worker
      .records()
      .flatMap((r) => (r.msg === 'analysis process ready' && r.pid ? [r.pid] : []));
    const running = await sendAndWaitRunning(studies[1]);
    await sleep(Math.floor(Math.random() * 1000));
    await worker.kill();
    expect((await t.db.analysis.findUniqueOrThrow({ where: { id: running.id } })).status).toBe('running');
    // no orphan: an analysis process whose worker died exits (it holds ~0.6 GB)
    await waitFor(
      'the orphaned analysis processes to exit',
      async () => pids.every((p) => !isAlive(p)),
      10_000,
    );

    const again = startNode(['worker'], env);
    try {
      await again.started();
      const t0 = Date.now();
      // BullMQ hands a job whose worker died to another after its lock (60 s) expires and the stalled check runs
      await expectAnalysedOnce(running.studyId, running.study.studyInstanceUid, 150_000);
      const a = await t.db.analysis.findUniqueOrThrow({ where: { id: running.id } });
      note(
        `worker crash (b): after the restart the study was analysed and exported in ${Date.now() - t0} ms (${a.attempts} runs)`,
      );
    } finally {
      expect(await again.stop()).toBe(0);
    }
  }, 240_000);
});
