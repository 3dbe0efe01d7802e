import { spawn } from 'node:child_process';
import { parseStorescu } from '../helpers/dcmtk';
import { useTestDatabase } from '../helpers/db';
import { findFiles, makeTmpDir, removeDir } from '../helpers/files';
import { freePorts } from '../helpers/orthanc';
import {
  checkStored,
  describe_,
  incomingFiles,
  note,
  startNode,
  type InstanceInfo,
  useRedisAndPhantom,
} from './lib';

// Case 1, receiver crash. A 500-instance send (DCMTK storescu, one association per try) to `lumbar serve
// receiver`, which is SIGKILLed at a random moment in 10 trials: after a random number of responses (1-60)
// and a random 0-30 ms more, so that the kill lands anywhere in the receive-fsync-rename-insert-answer path.
// After every restart: each instance storescu saw answered 0x0000 is there as a file and a database row (the
// file whole: it hashes to its row), and `incoming/` holds no partial upload. Each try re-sends what was not
// acknowledged, as a PACS does; a last, uninterrupted try completes the 500 and every one is stored once.

const TOTAL = 500;
const TRIALS = 10;

const t = useTestDatabase();
const fx = useRedisAndPhantom('rx', 1701, 14); // about 38 instances a study: 14 studies hold 500
let instances: InstanceInfo[];

beforeAll(() => {
  instances = describe_(findFiles(fx.phantom, '.dcm').slice(0, TOTAL));
  expect(instances).toHaveLength(TOTAL);
});

/** storescu sending `files`; SIGKILLs `onKill` once `killAfter` responses have come and `extraMs` passed. */
function storescuUntil(
  port: number,
  files: string[],
  killAfter: number,
  extraMs: number,
  onKill: () => void,
) {
  const child = spawn(
    'storescu',
    ['-d', '-nh', '-aet', 'STORESCU', '-aec', 'LUMBAR', '127.0.0.1', String(port), ...files],
    { env: { ...process.env, TCP_NODELAY: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let responses = 0;
  let fired = false;
  const onData = (d: Buffer) => {
    const s = d.toString();
    out += s;
    responses += (s.match(/DIMSE Status/g) ?? []).length;
    if (!fired && responses >= killAfter) {
      fired = true;
      setTimeout(onKill, extraMs);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise<{ output: string; killed: boolean }>((resolve) =>
    child.on('close', () => {
      clearTimeout(timer);
      resolve({ output: out, killed: fired });
    }),
  );
}

describe('receiver crash (SIGKILL) during a 500-instance send', () => {
  it(`loses no acknowledged instance and leaves no partial file, over ${TRIALS} kills`, async () => {
    const dataDir = makeTmpDir('faults-rx-data');
    const [port] = await freePorts(1);
    const env = {
      LUMBAR_DATABASE_URL: t.url,
      LUMBAR_REDIS_URL: fx.redis.url,
      LUMBAR_QUEUE_PREFIX: 'faults-rx',
      LUMBAR_DATA_DIR: dataDir,
      LUMBAR_DICOM_PORT: String(port),
      LUMBAR_ALLOWED_CALLERS: 'STORESCU@127.0.0.1',
      LUMBAR_STABLE_SECONDS: '3600', // no worker here; nothing should be analysed during the test anyway
    };
    const uidOf = new Map(instances.map((i) => [i.file, i.sopInstanceUid]));
    const acked = new Set<string>();
    const log: string[] = [];
    try {
      for (let trial = 1; trial <= TRIALS; trial++) {
        const node = startNode(['receiver'], env);
        await node.started();
        // how many partial uploads of the previous, killed receiver this start removed
        const swept = node.records().find((r) => r.msg.startsWith('partial uploads'))?.removed;
        if (swept) log.push(`restart ${trial}: ${swept} partial file(s) removed`);
        // After the restart, and with no sender connected: every partial upload of the killed process is gone
        // and every instance acknowledged so far is a whole file with its row.
        expect({ trial, incoming: incomingFiles(dataDir) }).toEqual({ trial, incoming: [] });
        expect(await checkStored(t.db, acked)).toEqual([]);

        const remaining = instances.filter((i) => !acked.has(i.sopInstanceUid)).map((i) => i.file);
        const killAfter = 1 + Math.floor(Math.random() * 60);
        const extraMs = Math.floor(Math.random() * 30);
        const run = await storescuUntil(port, remaining, killAfter, extraMs, () =>
          node.child.kill('SIGKILL'),
        );
        await node.exited;
        expect(run.killed).toBe(true); // the kill came during the send, not after it
        const { results } = parseStorescu(run.output);
        const ok = results.filter((r) => r.status === 0);
        for (const r of ok) acked.add(uidOf.get(r.file)!);
        const refused = results.filter((r) => r.status !== null && r.status !== 0);
        expect(refused.map((r) => r.message)).toEqual([]);
        log.push(
          `trial ${trial}: killed after ${killAfter}+${extraMs}ms, ${ok.length} acked, ${acked.size} total`,
        );
      }
      // The last try is not interrupted: the rest goes through and every one of the 500 is stored once.
      const node = startNode(['receiver'], env);
      await node.started();
      expect(incomingFiles(dataDir)).toEqual([]);
      const remaining = instances.filter((i) => !acked.has(i.sopInstanceUid)).map((i) => i.file);
      const run = await storescuUntil(port, remaining, Number.MAX_SAFE_INTEGER, 0, () => undefined);
      const { results } = parseStorescu(run.output);
      expect(results.filter((r) => r.status !== 0).map((r) => `${r.file}: ${r.status} ${r.message}`)).toEqual(
        [],
      );
      for (const r of results) acked.add(uidOf.get(r.file)!);
      expect(acked.size).toBe(TOTAL);
      expect(await checkStored(t.db, acked)).toEqual([]);
      expect(await t.db.instance.count()).toBe(TOTAL);
      expect(incomingFiles(dataDir)).toEqual([]);
      expect(await node.stop()).toBe(0);
      note(`receiver crash: ${log.join('; ')}`);
    } finally {
      removeDir(dataDir);
    }
  }, 300_000);
});
