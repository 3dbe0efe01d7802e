import { armStudy, type Queues } from '@lumbar/jobs';

/**
 * How much later than the quiet period a study's job may run, so that the receiver re-arms a study that is
 * receiving at most once per this many ms instead of once per instance: 10 % of the quiet period, at most 1 s.
 */
export const slackMs = (quietMs: number) => Math.min(1000, Math.floor(quietMs / 10));

/**
 * Re-arms each study's debounced `study.stable` job (armStudy) with a delay of the quiet period plus slackMs,
 * and skips the Redis call for an instance whose quiet period that job already covers: one armed at time a
 * runs at a + quiet + slack, which is at least quiet after any instance stored before a + slack. So the
 * quiet period is still measured from the last instance: the study is analysed between quiet and
 * quiet + slack after it, never sooner, and a crash loses nothing (the job is in Redis before any instance
 * it covers is acknowledged). Only a study the statement saw `receiving` is skipped: one that an analysis
 * has (`queued`, `analyzing`) is always re-armed, which leaves one more run behind the active one.
 */
export class StudyArmer {
  private readonly armed = new Map<number, { until: number; done: Promise<void> }>();
  private sweepAt = 0;

  constructor(
    private readonly queues: Queues,
    private readonly quietMs: number,
  ) {}

  /** Arms the study's job unless one armed by this process (and already in Redis) covers an instance stored now. */
  async arm(studyId: number, opts: { skippable: boolean }): Promise<'armed' | 'covered'> {
    const now = Date.now();
    const current = this.armed.get(studyId);
    if (opts.skippable && current && current.until >= now + this.quietMs) {
      const ok = await current.done.then(
        () => true,
        () => false,
      );
      if (ok) return 'covered';
    }
    const delay = this.quietMs + slackMs(this.quietMs);
    // BullMQ stamps the job a moment after `now`: it runs no sooner than `until`.
    const entry = { until: now + delay, done: armStudy(this.queues, studyId, delay) };
    this.armed.set(studyId, entry);
    this.sweep(now);
    try {
      await entry.done;
    } catch (err) {
      if (this.armed.get(studyId) === entry) this.armed.delete(studyId);
      throw err;
    }
    return 'armed';
  }

  /** Drops entries whose job has run (keeps the map to the studies receiving now). */
  private sweep(now: number): void {
    if (now < this.sweepAt) return;
    this.sweepAt = now + 10_000;
    for (const [id, e] of this.armed) if (e.until < now) this.armed.delete(id);
  }
}
