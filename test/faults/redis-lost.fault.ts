import { useTestDatabase } from '../helpers/db';
import { findFiles, makeTmpDir, removeDir } from '../helpers/files';
import { freePorts } from '../helpers/orthanc';
import { studyDirs } from '../helpers/phantom';
import { waitFor } from '../helpers/wait';
import { note, sendFiles, sleep, startNode, useRedisAndPhantom } from './lib';

// Case 3, Redis lost. Five studies are received; one is being analysed and four wait in the queue (one
// analysis process) when the node's Redis (a redis-server of this test, no persistence) is killed, started
// again and FLUSHALLed: every job is gone. Postgres is the source of truth: the reconciler
// (LUMBAR_RECONCILE_SECONDS=2) queues what the database says is owed, and all five studies reach a final
// state (analysed), each with one analysis, without restarting the node.

const t = useTestDatabase();
const fx = useRedisAndPhantom('redis', 3703, 5);

describe('Redis lost while studies wait', () => {
  it('restart + FLUSHALL: the reconciler brings all 5 studies to a final state', async () => {
    const dataDir = makeTmpDir('faults-redis-data');
    const [port] = await freePorts(1);
    const node = startNode(['receiver', 'worker'], {
      LUMBAR_DATABASE_URL: t.url,
      LUMBAR_REDIS_URL: fx.redis.url,
      LUMBAR_QUEUE_PREFIX: 'faults-redis',
      LUMBAR_DATA_DIR: dataDir,
      LUMBAR_DICOM_PORT: String(port),
      LUMBAR_ALLOWED_CALLERS: 'FAULTS@127.0.0.1',
      LUMBAR_STABLE_SECONDS: '2',
      LUMBAR_RECONCILE_SECONDS: '2',
      LUMBAR_WORKER_CONCURRENCY: '1',
    });
    try {
      await node.started();
      const sent = await Promise.all(studyDirs(fx.phantom).map((d) => sendFiles(port, findFiles(d, '.dcm'))));
      expect(sent.flatMap((s) => s.statuses).every((s) => s === 0)).toBe(true);
      expect(await t.db.study.count()).toBe(5);
      await waitFor(
        'the first analysis to run',
        async () => (await t.db.analysis.count({ where: { status: 'running' } })) === 1,
        60_000,
        20,
      );
      const waiting = await t.db.study.count({ where: { status: { in: ['receiving', 'queued'] } } });
      expect(waiting).toBeGreaterThanOrEqual(3); // they wait in Redis when it goes

      await fx.redis.kill();
      await sleep(1000);
      await fx.redis.start();
      fx.redis.flushAll();
      const t0 = Date.now();

      const final = await waitFor(
        'all 5 studies in a final state',
        async () => {
          const rows = await t.db.study.findMany({ select: { status: true } });
          return rows.every((r) => r.status === 'analyzed' || r.status === 'failed') ? rows : undefined;
        },
        150_000,
        500,
      );
      expect(final.map((r) => r.status)).toEqual(Array(5).fill('analyzed'));
      const analyses = await t.db.analysis.findMany();
      expect(analyses).toHaveLength(5);
      expect(analyses.every((a) => a.status === 'succeeded')).toBe(true);
      expect(node.records().some((r) => r.msg === 'reconciler re-queued work')).toBe(true);
      note(
        `redis lost: ${waiting} studies waited; all 5 analysed ${Date.now() - t0} ms after the flush ` +
          `(runs: ${analyses.map((a) => a.attempts).join(',')})`,
      );
    } finally {
      expect(await node.stop()).toBe(0);
      removeDir(dataDir);
    }
  }, 240_000);
});
