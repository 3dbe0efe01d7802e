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
  type Pacs,
  type RedisServer,
} from './lib';

// Case 5, the PACS down during export. The whole node (`lumbar serve`) sends its results to an Orthanc that
// is stopped before the analysis ends. The export is tried LUMBAR_EXPORT_ATTEMPTS (4) times with exponential
// backoff (2, 4, 8 s: the last wait is longer than the reconciler's quiet period, LUMBAR_STABLE_SECONDS + 5 s,
// so the reconciler must not mistake a send waiting for its backoff for a lost one), then it is marked failed
// with the reason, listed by GET /exports?status=failed, and stays failed. Once Orthanc is back (same ports
// and storage) POST /exports/:id/retry re-drives it: it succeeds, and the PACS holds the SR and the SEGs once.

const KEY = 'lk_faults01_0123456789abcdefghijklmnopqrstuv';
const ATTEMPTS = 4;
const BACKOFF_MS = 2000;

const t = useTestDatabase();
let redis: RedisServer;
let pacs: Pacs;
let phantom: string;

beforeAll(async () => {
  [redis, pacs] = await Promise.all([startRedis(), createPacs('ORTHANC')]);
  phantom = makeTmpDir('faults-pacs-phantom');
  await generatePhantom(phantom, 5705, 1);
}, 120_000);

afterAll(async () => {
  await pacs?.destroy();
  await redis?.kill();
  if (phantom) removeDir(phantom);
});

describe('PACS down during export', () => {
  it('retries with backoff, marks the export failed, and a retry through the API succeeds once it is back', async () => {
    const dataDir = makeTmpDir('faults-pacs-data');
    const [dicomPort, apiPort] = await freePorts(2);
    const node = startNode([], {
      LUMBAR_DATABASE_URL: t.url,
      LUMBAR_REDIS_URL: redis.url,
      LUMBAR_QUEUE_PREFIX: 'faults-pacs',
      LUMBAR_DATA_DIR: dataDir,
      LUMBAR_DICOM_PORT: String(dicomPort),
      LUMBAR_API_PORT: String(apiPort),
      LUMBAR_ALLOWED_CALLERS: 'FAULTS@127.0.0.1',
      LUMBAR_STABLE_SECONDS: '1',
      LUMBAR_RECONCILE_SECONDS: '2',
      LUMBAR_DESTINATIONS: `ORTHANC@127.0.0.1:${pacs.dicomPort}`,
      LUMBAR_EXPORT_ATTEMPTS: String(ATTEMPTS),
      LUMBAR_EXPORT_BACKOFF_MS: String(BACKOFF_MS),
      LUMBAR_EXPORT_TIMEOUT_MS: '10000',
      LUMBAR_BOOTSTRAP_API_KEY: KEY,
    });
    const api = async <T>(method: string, url: string): Promise<{ status: number; body: T }> => {
      const res = await fetch(`http://127.0.0.1:${apiPort}${url}`, {
        method,
        headers: { authorization: `Bearer ${KEY}` },
      });
      return { status: res.status, body: (await res.json()) as T };
    };
    try {
      await node.started();
      const study = studyDirs(phantom)[0];
      await pacs.stop(); // the PACS goes down before the results are ready
      const sent = await sendFiles(dicomPort, findFiles(study, '.dcm'));
      expect(sent.statuses.every((s) => s === 0)).toBe(true);

      const failed = await waitFor(
        'the export to be marked failed',
        async () => {
          const e = await t.db.export.findFirst();
          return e?.status === 'failed' ? e : undefined;
        },
        90_000,
        200,
      );
      expect(failed.attempts).toBe(ATTEMPTS);
      expect(failed.lastError).toMatch(/ECONNREFUSED|network error|refused/i);
      // exponential backoff between the attempts: 2 s, 4 s, 8 s (BullMQ's delay is a lower bound)
      // (the last attempt's log line is written just after its row: read the log once it is there)
      const failedTries = () =>
        node.records().filter((r) => r.msg === 'export failed' && r.exportId === failed.id);
      await waitFor(
        'the last attempt in the log',
        async () => failedTries().length >= ATTEMPTS || undefined,
        5000,
        50,
      );
      const tries = failedTries();
      expect(tries).toHaveLength(ATTEMPTS);
      const gaps = tries.slice(1).map((r, i) => r.time! - tries[i].time!);
      gaps.forEach((g, i) => expect(g).toBeGreaterThanOrEqual(BACKOFF_MS * 2 ** i - 50));

      // visible: the API lists it as failed, with the reason; and it stays failed (nothing re-drives it alone)
      const list = await api<{ items: Array<{ id: number; status: string; lastError: string | null }> }>(
        'GET',
        '/exports?status=failed',
      );
      expect(list.status).toBe(200);
      expect(list.body.items.map((e) => e.id)).toEqual([failed.id]);
      expect(list.body.items[0].lastError).toBe(failed.lastError);
      await sleep(5000);
      expect(await t.db.export.findUniqueOrThrow({ where: { id: failed.id } })).toMatchObject({
        status: 'failed',
        attempts: ATTEMPTS,
      });

      // the PACS is back: re-driven through the API, the export succeeds at its first new attempt
      await pacs.start();
      const retry = await api<{ export: { status: string }; jobId: string }>(
        'POST',
        `/exports/${failed.id}/retry`,
      );
      expect(retry.status).toBe(200);
      expect(retry.body.export.status).toBe('pending');
      const ok = await waitFor(
        'the re-driven export to succeed',
        async () => {
          const e = await t.db.export.findUnique({ where: { id: failed.id } });
          return e?.status === 'succeeded' ? e : undefined;
        },
        60_000,
        200,
      );
      expect(ok.attempts).toBe(1);
      expect(ok.lastError).toBeNull();
      const outputs = await t.db.output.findMany({ where: { analysisId: failed.analysisId } });
      const { studyInstanceUid } = await t.db.study.findFirstOrThrow();
      await sleep(2000); // a second, duplicate send would land now
      const counts = await pacs.countByModality(studyInstanceUid);
      expect({ SEG: counts.SEG, SR: counts.SR }).toEqual({
        SEG: outputs.filter((o) => o.kind === 'seg').length,
        SR: 1,
      });
      const sends = node.records().filter((r) => r.msg === 'export sent');
      expect(sends).toHaveLength(1);
      note(
        `pacs down: ${ATTEMPTS} attempts ${gaps.map((g) => `${g} ms`).join(', ')} apart, failed; re-driven and sent`,
      );
    } finally {
      expect(await node.stop()).toBe(0);
      removeDir(dataDir);
    }
  }, 240_000);
});
