import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { useTestDatabase } from '../helpers/db';
import { findFiles, makeTmpDir } from '../helpers/files';
import { freePorts } from '../helpers/orthanc';
import { studyDirs } from '../helpers/phantom';
import {
  checkStored,
  describe_,
  incomingFiles,
  note,
  sendFiles,
  sleep,
  startNode,
  useRedisAndPhantom,
} from './lib';

// Case 6, the data folder's disk full. LUMBAR_DATA_DIR is a 20 MB tmpfs this test mounts (it needs root and
// permission to mount; without them the case is skipped, saying why). A filler file leaves room for about
// 15 instances of a 38-instance study: the sender gets 0x0000 and then 0xA700 (out of resources), never an
// abort; every instance acknowledged is stored whole with its row, no partial upload remains in incoming/, and
// instances/ holds no file without its row. Once the filler is deleted, the same node (not restarted) stores
// the rest.

const A700 = 0xa700;
const mountPoint = makeTmpDir('faults-tmpfs');

/** Mounts the tmpfs now (at load time: the test must know whether it can run); the reason if it cannot. */
function mountTmpfs(): string | null {
  if (process.getuid?.() !== 0) return 'not root: cannot mount a tmpfs';
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mountPoint], { encoding: 'utf8' });
  if (r.status !== 0) return `mount -t tmpfs refused: ${(r.stderr || r.stdout || String(r.error)).trim()}`;
  return null;
}
const cannotMount = mountTmpfs();
if (cannotMount) note(`disk full: SKIPPED, ${cannotMount}`);
const itMounted = cannotMount ? it.skip : it;

const t = useTestDatabase();
const fx = useRedisAndPhantom('disk', 6706, 1);

afterAll(async () => {
  if (!cannotMount) {
    const r = spawnSync('umount', [mountPoint]);
    if (r.status !== 0) spawnSync('umount', ['-l', mountPoint]);
  }
  rmSync(mountPoint, { recursive: true, force: true });
});

describe('disk full in the data folder', () => {
  itMounted(
    'answers 0xA700, half-writes nothing, and recovers once space is freed',
    async () => {
      const dataDir = path.join(mountPoint, 'data');
      mkdirSync(dataDir);
      const [port] = await freePorts(1);
      const node = startNode(['receiver'], {
        LUMBAR_DATABASE_URL: t.url,
        LUMBAR_REDIS_URL: fx.redis.url,
        LUMBAR_QUEUE_PREFIX: 'faults-disk',
        LUMBAR_DATA_DIR: dataDir,
        LUMBAR_DICOM_PORT: String(port),
        LUMBAR_ALLOWED_CALLERS: 'FAULTS@127.0.0.1',
        LUMBAR_STABLE_SECONDS: '3600',
      });
      try {
        await node.started();
        const study = describe_(findFiles(studyDirs(fx.phantom)[0], '.dcm'));
        const instanceBytes = Math.max(...study.map((i) => statSync(i.file).size));
        // fill the disk but for room for ~15 instances
        const free = () => {
          const s = statfsSync(mountPoint);
          return s.bavail * s.bsize;
        };
        const filler = path.join(mountPoint, 'filler');
        writeFileSync(filler, Buffer.alloc(Math.max(free() - 15 * instanceBytes, 0)));

        const first = await sendFiles(
          port,
          study.map((i) => i.file),
          { timeoutMs: 120_000 },
        );
        expect(first.error).toBeNull();
        expect(first.statuses.every((s) => s === 0 || s === A700)).toBe(true);
        const acked = study.filter((_, i) => first.statuses[i] === 0);
        const refused = study.filter((_, i) => first.statuses[i] !== 0);
        expect(acked.length).toBeGreaterThan(0);
        expect(refused.length).toBeGreaterThan(0);
        expect(node.child.exitCode).toBeNull();
        expect(
          await checkStored(
            t.db,
            acked.map((i) => i.sopInstanceUid),
          ),
        ).toEqual([]);
        expect(incomingFiles(dataDir)).toEqual([]);
        // instances/ holds exactly the files of the rows: nothing half-written or orphaned
        const rows = await t.db.instance.findMany({ select: { path: true } });
        expect(findFiles(path.join(dataDir, 'instances'), '.dcm')).toEqual(rows.map((r) => r.path).sort());
        expect(rows).toHaveLength(acked.length);

        // space is freed: the refused instances are stored on a re-send, without a restart
        rmSync(filler);
        await sleep(200);
        const second = await sendFiles(
          port,
          refused.map((i) => i.file),
          { timeoutMs: 120_000 },
        );
        expect(second.statuses.every((s) => s === 0)).toBe(true);
        expect(
          await checkStored(
            t.db,
            study.map((i) => i.sopInstanceUid),
          ),
        ).toEqual([]);
        expect(await t.db.instance.count()).toBe(study.length);
        expect(incomingFiles(dataDir)).toEqual([]);
        const why = first.comments.find((c, i) => first.statuses[i] === A700);
        note(
          `disk full: ${acked.length} stored, ${refused.length} answered A700 ("${why}"); all stored after freeing space`,
        );
      } finally {
        expect(await node.stop()).toBe(0);
      }
    },
    180_000,
  );
});
