import { storescu } from '../helpers/dcmtk';
import { findFiles, makeTmpDir } from '../helpers/files';
import { generatePhantom, studyDirs } from '../helpers/phantom';
import { useTestDatabase } from '../helpers/db';
import { spawnServe, type ServeProcess } from '../helpers/services';
import { serveEnv } from '../helpers/serve-env';
import { waitFor } from '../helpers/wait';
import { isAlive } from '../helpers/run';

// SIGTERM while a study is being analysed: the analysis finishes within the grace period, or its process is
// stopped and the study released (queued again, not failed); the pool's processes exit with the node; a
// released study is analysed after the restart, once.

const t = useTestDatabase();
let studies: string[][];

beforeAll(async () => {
  const phantom = makeTmpDir('lumbar-stop-');
  await generatePhantom(phantom, 9090, 2);
  studies = studyDirs(phantom).map((d) => findFiles(d, '.dcm'));
});

/** The pids of the analysis processes a node started. */
const poolPids = (node: ServeProcess) =>
  node.records().flatMap((l) => (l.msg === 'analysis process ready' && l.pid ? [l.pid] : []));

/** `lumbar serve` (every service), logging at debug so that the pool says which process took the study. */
function serve(env: Record<string, string>) {
  return spawnServe([], { ...env, LUMBAR_LOG_LEVEL: 'debug' });
}

/**
 * Sends a study and waits until its analysis is in an analysis process; returns its row and that process's
 * pid. The row's status is not enough: it says `running` a moment before the handler gives the study to the
 * pool, and a node stopped in that moment releases the study without analysing it (correctly, but then the
 * grace period has nothing to wait for).
 */
async function sendAndWaitRunning(node: ServeProcess, port: number, files: string[]) {
  const sent = await storescu({ port, aec: 'LUMBAR', aet: 'STORESCU', paths: files });
  expect(sent.results.every((r) => r.status === 0)).toBe(true);
  const handed = await waitFor(
    'the analysis to be handed to a process',
    async () => node.records().find((l) => l.msg === 'analysis handed to a process'),
    60_000,
    20,
  );
  const running = await t.db.analysis.findFirstOrThrow({ where: { status: 'running' } });
  return { running, pid: handed.pid! };
}

describe('lumbar serve stops cleanly while a study is analysed', () => {
  it('with no grace: the study is released, the node and its pool exit, and a restart analyses it once', async () => {
    const env = serveEnv(t.url, {
      LUMBAR_STABLE_SECONDS: '1',
      LUMBAR_ALLOWED_CALLERS: 'STORESCU@127.0.0.1',
      LUMBAR_RECONCILE_SECONDS: '1',
    });
    const first = serve({ ...env, LUMBAR_SHUTDOWN_GRACE_MS: '0' });
    const started = await first.started();
    const { running, pid } = await sendAndWaitRunning(first, started.ports!.dicom, studies[0]);
    const pids = poolPids(first);
    expect(pids).toEqual([pid]);
    // the analysis process is paused, so that it cannot finish before the node stops: no race
    process.kill(pid, 'SIGSTOP');
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(first.output()).toMatch(/"msg":"analysis released: the node is stopping"/);
    for (const p of pids) expect(isAlive(p)).toBe(false);
    const released = await t.db.analysis.findUniqueOrThrow({ where: { id: running.id } });
    expect(released).toMatchObject({ status: 'queued', startedAt: null });
    expect(released.lastError).toMatch(/^SHUTDOWN: /);
    expect((await t.db.study.findFirstOrThrow()).status).toBe('queued');

    const second = serve(env);
    try {
      await second.started();
      const done = await waitFor(
        'the released study analysed after the restart',
        async () => (await t.db.analysis.findFirst({ where: { status: 'succeeded' } })) ?? undefined,
        120_000,
      );
      expect(done.id).toBe(running.id);
      expect(await t.db.analysis.count()).toBe(1);
      expect((await t.db.study.findFirstOrThrow()).status).toBe('analyzed');
    } finally {
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }
  }, 300_000);

  it('with a grace period: the running study is finished before the node exits', async () => {
    const node = serve(
      serveEnv(t.url, {
        LUMBAR_STABLE_SECONDS: '1',
        LUMBAR_ALLOWED_CALLERS: 'STORESCU@127.0.0.1',
        LUMBAR_SHUTDOWN_GRACE_MS: '120000',
      }),
    );
    const started = await node.started();
    const { running, pid } = await sendAndWaitRunning(node, started.ports!.dicom, studies[1]);
    const pids = poolPids(node);
    expect(pids).toEqual([pid]);
    // paused while the node begins to stop, then let go: it finishes within the grace period
    process.kill(pid, 'SIGSTOP');
    node.child.kill('SIGTERM');
    await waitFor('the node to begin stopping', async () => node.records().some((l) => l.msg === 'stopping'));
    await new Promise((r) => setTimeout(r, 1000));
    expect(node.records().some((l) => l.msg === 'stopped')).toBe(false);
    process.kill(pid, 'SIGCONT');
    expect(await node.exited).toBe(0);
    for (const p of pids) expect(isAlive(p)).toBe(false);
    const finished = await t.db.analysis.findUniqueOrThrow({ where: { id: running.id } });
    expect(finished.status).toBe('succeeded');
    expect(node.records().some((l) => l.msg === 'study analysed')).toBe(true);
  }, 300_000);
});
