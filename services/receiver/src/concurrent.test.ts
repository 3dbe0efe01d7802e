import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createLogger } from '@lumbar/core';
import { openQueues, redisConnection, type Queues } from '@lumbar/jobs';
import { startReceiver, type Receiver } from './index';
import { storescu } from '../../../test/helpers/dcmtk';
import { findFiles, makeTmpDir } from '../../../test/helpers/files';
import { generatePhantom, studyDirs } from '../../../test/helpers/phantom';
import { useTestDatabase } from '../../../test/helpers/db';
import { testConfig } from '../../../test/helpers/services';

const t = useTestDatabase();
let receiver: Receiver;
let queues: Queues;
let redis: ReturnType<typeof redisConnection>;
let studies: string[];
let dataDir: string;

beforeAll(async () => {
  const config = testConfig(t.url, {
    LUMBAR_ALLOWED_CALLERS: 'STORESCU@127.0.0.1',
    LUMBAR_STABLE_SECONDS: '60',
    LUMBAR_MAX_ASSOCIATIONS: '8',
  });
  dataDir = config.dataDir;
  redis = redisConnection(config.redisUrl, 'producer');
  queues = openQueues(redis, config.queuePrefix);
  receiver = await startReceiver({ config, db: t.db, queues, log: createLogger('receiver', 'silent') });
  const out = makeTmpDir('lumbar-rx-group-');
  await generatePhantom(out, 5252, 2);
  studies = studyDirs(out);
}, 300_000);

afterAll(async () => {
  await receiver?.close();
  await queues?.studies.obliterate({ force: true }).catch(() => undefined);
  await queues?.close();
  redis?.disconnect();
});

describe('receiver with several associations at once (group commit)', () => {
  it('stores every instance of 4 concurrent associations exactly once, the same instances racing on two of them', async () => {
    const files = studies.flatMap((s) => findFiles(s, '.dcm'));
    // each study goes out on two associations at once: every SOP Instance UID arrives twice, concurrently
    const runs = await Promise.all(
      [studies[0], studies[0], studies[1], studies[1]].map((s) =>
        storescu({ port: receiver.port, aec: 'LUMBAR', aet: 'STORESCU', paths: [s] }),
      ),
    );
    for (const run of runs) {
      expect(run.associationError).toBeUndefined();
      expect(run.results.every((r) => r.status === 0)).toBe(true);
    }
    expect(runs.reduce((n, r) => n + r.results.length, 0)).toBe(2 * files.length);
    const rows = await t.db.instance.findMany();
    expect(rows).toHaveLength(files.length);
    expect(new Set(rows.map((r) => r.sopInstanceUid)).size).toBe(files.length);
    // every row's file is there, whole: its bytes hash to the row's sha256 over the data set part
    for (const r of rows) {
      expect(r.path.startsWith(path.join(dataDir, 'instances'))).toBe(true);
      const stored = readFileSync(r.path);
      expect(stored.length).toBeGreaterThan(r.sizeBytes);
      const dataSet = stored.subarray(stored.length - r.sizeBytes);
      expect(createHash('sha256').update(dataSet).digest('hex')).toBe(r.sha256);
    }
    for (const s of await t.db.study.findMany()) {
      const n = await t.db.instance.count({ where: { series: { studyId: s.id } } });
      expect(s.instanceCount).toBe(n);
    }
    expect(await t.db.auditEvent.count({ where: { action: 'instance.received' } })).toBe(files.length);
    expect(await t.db.auditEvent.count({ where: { action: 'instance.resent-different' } })).toBe(0);
    // nothing left in incoming/, no stray file in instances/
    expect(readdirSync(path.join(dataDir, 'incoming'))).toEqual([]);
    expect(findFiles(path.join(dataDir, 'instances'), '.dcm')).toHaveLength(files.length);
    // one debounced job per study
    const delayed = await queues.studies.getDelayed();
    expect(delayed.map((j) => j.data.studyId).sort()).toEqual(
      (await t.db.study.findMany()).map((s) => s.id).sort(),
    );
  }, 300_000);
});
