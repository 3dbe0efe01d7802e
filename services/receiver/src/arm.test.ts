import type { Queues } from '@lumbar/jobs';
import { slackMs, StudyArmer } from './arm';

/** A queue that records each add (delay, job id) and can be made to fail. */
function fakeQueues() {
  const adds: { studyId: number; delay: number; at: number }[] = [];
  const state = { fail: false };
  const queues = {
    studies: {
      add: async (_name: string, data: { studyId: number }, opts: { delay: number }) => {
        if (state.fail) throw new Error('redis down');
        adds.push({ studyId: data.studyId, delay: opts.delay, at: Date.now() });
      },
    },
  } as unknown as Queues;
  return { queues, adds, state };
}

describe('StudyArmer (re-arming the debounced study.stable job)', () => {
  afterEach(() => jest.useRealTimers());

  it('arms with the quiet period plus the slack, and skips instances that job already covers', async () => {
    jest.useFakeTimers({ now: 1_000_000, doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    const { queues, adds } = fakeQueues();
    const quiet = 15_000;
    const armer = new StudyArmer(queues, quiet);
    expect(slackMs(quiet)).toBe(1000);
    expect(await armer.arm(7, { skippable: true })).toBe('armed');
    expect(adds).toEqual([{ studyId: 7, delay: quiet + 1000, at: 1_000_000 }]);
    // within the slack: the job armed at 1 000 000 runs at 1 016 000 >= now + quiet
    jest.setSystemTime(1_000_999);
    expect(await armer.arm(7, { skippable: true })).toBe('covered');
    jest.setSystemTime(1_001_000);
    expect(await armer.arm(7, { skippable: true })).toBe('covered');
    // past the slack: armed again, so the job still runs at least `quiet` after this instance
    jest.setSystemTime(1_001_001);
    expect(await armer.arm(7, { skippable: true })).toBe('armed');
    expect(adds.map((a) => a.at + a.delay)).toEqual([1_016_000, 1_017_001]);
    // every job runs between quiet and quiet + slack after the last instance it covers
    for (const a of adds) expect(a.at + a.delay).toBeGreaterThanOrEqual(a.at + quiet);
    // another study is armed on its own
    expect(await armer.arm(8, { skippable: true })).toBe('armed');
  });

  it('always arms an instance that is not skippable (a study an analysis has, a duplicate)', async () => {
    const { queues, adds } = fakeQueues();
    const armer = new StudyArmer(queues, 60_000);
    await armer.arm(1, { skippable: true });
    expect(await armer.arm(1, { skippable: false })).toBe('armed');
    expect(adds).toHaveLength(2);
  });

  it('does not count an arm that failed: the next instance arms again, and the failure reaches the caller', async () => {
    const { queues, adds, state } = fakeQueues();
    const armer = new StudyArmer(queues, 60_000);
    state.fail = true;
    await expect(armer.arm(3, { skippable: true })).rejects.toThrow('redis down');
    state.fail = false;
    expect(await armer.arm(3, { skippable: true })).toBe('armed');
    expect(adds).toHaveLength(1);
  });

  it('an instance that arrives while the covering arm is still in flight waits for it, and arms itself if it fails', async () => {
    let release!: (ok: boolean) => void;
    const adds: number[] = [];
    const queues = {
      studies: {
        add: (_n: string, data: { studyId: number }) => {
          adds.push(data.studyId);
          if (adds.length > 1) return Promise.resolve();
          return new Promise<void>((resolve, reject) => {
            release = (ok) => (ok ? resolve() : reject(new Error('redis down')));
          });
        },
      },
    } as unknown as Queues;
    const armer = new StudyArmer(queues, 60_000);
    const first = armer.arm(4, { skippable: true });
    const second = armer.arm(4, { skippable: true });
    await new Promise((r) => setImmediate(r));
    expect(adds).toEqual([4]); // the second waits on the first's add
    release(false);
    await expect(first).rejects.toThrow('redis down');
    expect(await second).toBe('armed'); // it did not count on the failed one
    expect(adds).toEqual([4, 4]);
  });

  it('keeps the slack small for short quiet periods', () => {
    expect(slackMs(2000)).toBe(200);
    expect(slackMs(0)).toBe(0);
  });
});
