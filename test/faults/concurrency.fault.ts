import path from 'node:path';
import { storescu } from '../helpers/dcmtk';
import { useTestDatabase } from '../helpers/db';
import { findFiles, makeTmpDir, removeDir } from '../helpers/files';
import { freePorts } from '../helpers/orthanc';
import {
  checkStored,
  describe_,
  holdAssociation,
  incomingFiles,
  note,
  sendFiles,
  startNode,
  type InstanceInfo,
  useRedisAndPhantom,
} from './lib';

// Case 7, concurrency. (a) 50 associations at once, 10 instances each, LUMBAR_MAX_ASSOCIATIONS=64: all are
// accepted and every acknowledged instance is stored exactly once (one row, one whole file). (b) With a cap
// of 4 and 4 associations held open, every further one is refused at once and cleanly (A-ASSOCIATE-RJ
// transient, "local limit exceeded": dcmjs-dimse and DCMTK storescu senders, and raw requests), never
// hanging; once the 4 are released the node accepts again. (c) The same 5 new instances sent by 10 senders
// at once: all answered 0x0000, one row and one audit event per instance.

const ASSOCIATIONS = 50;
const PER_ASSOCIATION = 10;
const CAP = 4;

const t = useTestDatabase();
const fx = useRedisAndPhantom('conc', 7707, 14);
let instances: InstanceInfo[];

beforeAll(() => {
  instances = describe_(findFiles(fx.phantom, '.dcm'));
  expect(instances.length).toBeGreaterThanOrEqual(ASSOCIATIONS * PER_ASSOCIATION + 5);
});

function nodeEnv(dataDir: string, port: number, cap: number) {
  return {
    LUMBAR_DATABASE_URL: t.url,
    LUMBAR_REDIS_URL: fx.redis.url,
    LUMBAR_QUEUE_PREFIX: 'faults-conc',
    LUMBAR_DATA_DIR: dataDir,
    LUMBAR_DICOM_PORT: String(port),
    LUMBAR_ALLOWED_CALLERS: '*@127.0.0.1',
    LUMBAR_MAX_ASSOCIATIONS: String(cap),
    LUMBAR_STABLE_SECONDS: '3600',
  };
}

describe('concurrent associations', () => {
  const dataDir = makeTmpDir('faults-conc-data');
  afterAll(() => removeDir(dataDir));

  it(`(a) ${ASSOCIATIONS} associations x ${PER_ASSOCIATION} instances at once: each acknowledged one stored once`, async () => {
    const [port] = await freePorts(1);
    const node = startNode(['receiver'], nodeEnv(dataDir, port, 64));
    try {
      await node.started();
      const batches = Array.from({ length: ASSOCIATIONS }, (_, a) =>
        instances.slice(a * PER_ASSOCIATION, (a + 1) * PER_ASSOCIATION),
      );
      const t0 = Date.now();
      const outs = await Promise.all(
        batches.map((b, a) =>
          sendFiles(
            port,
            b.map((i) => i.file),
            { aet: `SCU${a}`, timeoutMs: 120_000 },
          ),
        ),
      );
      const ms = Date.now() - t0;
      expect(outs.map((o) => o.error ?? (o.rejected ? 'rejected' : 'ok'))).toEqual(
        Array(ASSOCIATIONS).fill('ok'),
      );
      const acked = batches.flatMap((b, a) => b.filter((_, i) => outs[a].statuses[i] === 0));
      const statuses = outs.flatMap((o) => o.statuses);
      expect(statuses.filter((s) => s !== 0)).toEqual([]);
      expect(
        await checkStored(
          t.db,
          acked.map((i) => i.sopInstanceUid),
        ),
      ).toEqual([]);
      expect(await t.db.instance.count()).toBe(acked.length);
      expect(findFiles(path.join(dataDir, 'instances'), '.dcm')).toHaveLength(acked.length);
      expect(incomingFiles(dataDir)).toEqual([]);
      note(
        `concurrency (a): ${ASSOCIATIONS} associations, ${acked.length} instances stored once in ${ms} ms`,
      );
    } finally {
      expect(await node.stop()).toBe(0);
    }
  }, 240_000);

  it(`(b) with a cap of ${CAP}, associations beyond it are rejected at once, never hang`, async () => {
    const [port] = await freePorts(1);
    const node = startNode(['receiver'], nodeEnv(dataDir, port, CAP));
    try {
      await node.started();
      const held = await Promise.all(
        Array.from({ length: CAP }, (_, i) => holdAssociation(port, `HOLD${i}`)),
      );
      expect(held.map((h) => h.outcome)).toEqual(Array(CAP).fill('accepted'));

      const extra = instances.slice(ASSOCIATIONS * PER_ASSOCIATION, ASSOCIATIONS * PER_ASSOCIATION + 2);
      const t0 = Date.now();
      const [raws, dimses, dcmtk] = await Promise.all([
        Promise.all(Array.from({ length: 3 }, (_, i) => holdAssociation(port, `RAW${i}`))),
        Promise.all(
          Array.from({ length: 3 }, (_, i) =>
            sendFiles(
              port,
              extra.map((x) => x.file),
              { aet: `DIMSE${i}`, timeoutMs: 10_000 },
            ),
          ),
        ),
        storescu({ port, aec: 'LUMBAR', aet: 'STORESCU', paths: extra.map((x) => x.file) }),
      ]);
      const ms = Date.now() - t0;
      // A-ASSOCIATE-RJ: result 2 (transient), source 3 (service provider, presentation), reason 2 (local limit)
      const LIMIT = { result: 2, source: 3, reason: 2 };
      expect(raws.map((r) => [r.outcome, r.reject])).toEqual(Array(3).fill(['rejected', LIMIT]));
      expect(dimses.map((d) => [d.rejected, d.accepted, d.error])).toEqual(
        Array(3).fill([LIMIT, false, null]),
      );
      expect(dcmtk.associationError).toMatch(/Association Rejected/i);
      expect(dcmtk.output).toMatch(/Local Limit Exceeded/i);
      expect(ms).toBeLessThan(10_000); // refused at once: nobody waited for a slot
      expect(dimses.flatMap((d) => d.statuses).every((s) => s === null)).toBe(true);

      for (const h of held) await h.release();
      // capacity comes back: an association is accepted and stores
      const after = await sendFiles(
        port,
        extra.map((x) => x.file),
        { timeoutMs: 20_000 },
      );
      expect(after.statuses).toEqual([0, 0]);
      note(
        `concurrency (b): 7 associations beyond a cap of ${CAP} rejected in ${ms} ms; accepted again after release`,
      );
    } finally {
      expect(await node.stop()).toBe(0);
    }
  }, 120_000);

  it('(c) the same instances from 10 senders at once: one row each', async () => {
    const [port] = await freePorts(1);
    const node = startNode(['receiver'], nodeEnv(dataDir, port, 64));
    try {
      await node.started();
      const same = instances.slice(ASSOCIATIONS * PER_ASSOCIATION + 2, ASSOCIATIONS * PER_ASSOCIATION + 7);
      expect(same).toHaveLength(5);
      const outs = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          sendFiles(
            port,
            same.map((x) => x.file),
            { aet: `SAME${i}`, timeoutMs: 60_000 },
          ),
        ),
      );
      expect(outs.flatMap((o) => o.statuses)).toEqual(Array(50).fill(0));
      const uids = same.map((x) => x.sopInstanceUid);
      expect(await t.db.instance.count({ where: { sopInstanceUid: { in: uids } } })).toBe(5);
      expect(await checkStored(t.db, uids)).toEqual([]);
      const rows = await t.db.instance.findMany({
        where: { sopInstanceUid: { in: uids } },
        select: { id: true },
      });
      const audits = await t.db.auditEvent.count({
        where: { action: 'instance.received', subjectId: { in: rows.map((r) => String(r.id)) } },
      });
      expect(audits).toBe(5);
      expect(incomingFiles(dataDir)).toEqual([]);
      note('concurrency (c): 5 instances x 10 senders at once: 50 x 0x0000, 5 rows, 5 audit events');
    } finally {
      expect(await node.stop()).toBe(0);
    }
  }, 120_000);
});
