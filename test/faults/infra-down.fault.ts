import { openDb, type PrismaClient } from '@lumbar/db';
import { findFiles, makeTmpDir, removeDir } from '../helpers/files';
import { freePorts } from '../helpers/orthanc';
import { generatePhantom, studyDirs } from '../helpers/phantom';
import { waitFor } from '../helpers/wait';
import {
  checkStored,
  describe_,
  incomingFiles,
  note,
  postgresBin,
  sendFiles,
  sleep,
  startNode,
  startPostgres,
  startRedis,
  type InstanceInfo,
  type NodeProcess,
  type PgServer,
  type RedisServer,
} from './lib';

// Case 4, PostgreSQL or Redis unavailable during a send. The node (`lumbar serve receiver worker`) uses a
// PostgreSQL and a Redis this test starts for it, so that they can be stopped for real (pg_ctl stop -m
// immediate; redis-server SIGKILL). During one association, after a random number of responses, one of them
// goes: the sender keeps getting answers, each 0x0000 or 0xA700 (out of resources), never an abort or a hang,
// and every instance answered 0x0000 is stored (file and row). Once the server is back, the same node, not
// restarted, stores the rest (a re-send of what got 0xA700) and analyses the study.

const A700 = 0xa700;
const bin = postgresBin();
let pg: PgServer | null = null;
let redis: RedisServer;
let phantom: string;
let studies: InstanceInfo[][];
let dataDir: string;
let db: PrismaClient;
let node: NodeProcess;
let port: number;

beforeAll(async () => {
  if (!bin) throw new Error('no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql');
  [pg, redis] = await Promise.all([startPostgres(bin), startRedis()]);
  phantom = makeTmpDir('faults-infra-phantom');
  await generatePhantom(phantom, 4704, 2);
  studies = studyDirs(phantom).map((d) => describe_(findFiles(d, '.dcm')));
  dataDir = makeTmpDir('faults-infra-data');
  [port] = await freePorts(1);
  node = startNode(['receiver', 'worker'], {
    LUMBAR_DATABASE_URL: pg.url('lumbar'),
    LUMBAR_REDIS_URL: redis.url,
    LUMBAR_QUEUE_PREFIX: 'faults-infra',
    LUMBAR_DATA_DIR: dataDir,
    LUMBAR_DICOM_PORT: String(port),
    LUMBAR_ALLOWED_CALLERS: 'FAULTS@127.0.0.1',
    LUMBAR_STABLE_SECONDS: '2',
    LUMBAR_RECONCILE_SECONDS: '2',
  });
  await node.started();
  db = openDb(pg.url('lumbar'), { poolSize: 2 });
}, 120_000);

afterAll(async () => {
  await node?.stop();
  await db?.$disconnect();
  pg?.destroy();
  await redis?.kill();
  if (phantom) removeDir(phantom);
  if (dataDir) removeDir(dataDir);
});

/**
 * Sends the study; `cut` runs after a random number (5-20) of responses. Returns the acknowledged SOP UIDs
 * and the files answered otherwise.
 */
async function sendWithCut(study: InstanceInfo[], cut: () => void | Promise<void>) {
  const after = 5 + Math.floor(Math.random() * 16);
  let n = 0;
  let cutDone: Promise<void> = Promise.resolve();
  const out = await sendFiles(
    port,
    study.map((i) => i.file),
    {
      timeoutMs: 120_000,
      onResponse: () => {
        if (++n === after) cutDone = Promise.resolve(cut());
      },
    },
  );
  await cutDone;
  expect(out.error).toBeNull(); // released normally: not aborted, not hung
  expect(out.statuses.every((s) => s === 0 || s === A700)).toBe(true);
  const acked = study.filter((_, i) => out.statuses[i] === 0);
  const refused = study.filter((_, i) => out.statuses[i] !== 0);
  return { after, acked, refused, ms: out.ms };
}

/** Re-sends `files` until every one is answered 0x0000 (the node reconnects by itself), within `timeoutMs`. */
async function resendUntilStored(files: InstanceInfo[], timeoutMs: number): Promise<number> {
  const until = Date.now() + timeoutMs;
  let left = files;
  for (let tries = 1; ; tries++) {
    const out = await sendFiles(
      port,
      left.map((i) => i.file),
      { timeoutMs: 60_000 },
    );
    left = left.filter((_, i) => out.statuses[i] !== 0);
    if (left.length === 0) return tries;
    if (Date.now() > until) throw new Error(`${left.length} instances still refused after ${tries} tries`);
    await sleep(1000);
  }
}

async function expectStudyAnalysed(study: InstanceInfo[]) {
  await waitFor(
    'the study analysed',
    async () => {
      const s = await db.study.findUnique({ where: { studyInstanceUid: study[0].studyInstanceUid } });
      return s?.status === 'analyzed';
    },
    90_000,
    500,
  );
}

describe('PostgreSQL or Redis unavailable during a send', () => {
  it('PostgreSQL stops mid-send: 0xA700, nothing acknowledged unstored, recovery without a restart', async () => {
    const study = studies[0];
    const r = await sendWithCut(study, () => pg!.stopImmediate());
    expect(r.refused.length).toBeGreaterThan(0);
    expect(node.child.exitCode).toBeNull(); // the node lives on
    pg!.start();
    expect(
      await checkStored(
        db,
        r.acked.map((i) => i.sopInstanceUid),
      ),
    ).toEqual([]);
    const tries = await resendUntilStored(r.refused, 30_000);
    expect(
      await checkStored(
        db,
        study.map((i) => i.sopInstanceUid),
      ),
    ).toEqual([]);
    expect(
      await db.instance.count({
        where: { series: { study: { studyInstanceUid: study[0].studyInstanceUid } } },
      }),
    ).toBe(study.length);
    expect(incomingFiles(dataDir)).toEqual([]);
    await expectStudyAnalysed(study);
    note(
      `postgres down: cut after ${r.after} responses, ${r.refused.length} answered A700; stored after ${tries} re-send(s)`,
    );
  }, 180_000);

  it('Redis stops mid-send: 0xA700, nothing acknowledged unstored, recovery without a restart', async () => {
    const study = studies[1];
    const r = await sendWithCut(study, () => redis.kill());
    expect(r.refused.length).toBeGreaterThan(0);
    expect(node.child.exitCode).toBeNull();
    expect(
      await checkStored(
        db,
        r.acked.map((i) => i.sopInstanceUid),
      ),
    ).toEqual([]);
    await redis.start(); // empty: whatever was queued is lost as well
    const tries = await resendUntilStored(r.refused, 30_000);
    expect(
      await checkStored(
        db,
        study.map((i) => i.sopInstanceUid),
      ),
    ).toEqual([]);
    expect(incomingFiles(dataDir)).toEqual([]);
    await expectStudyAnalysed(study);
    note(
      `redis down: cut after ${r.after} responses, ${r.refused.length} answered A700; stored after ${tries} re-send(s)`,
    );
  }, 180_000);
});
