import {
  forgetInstance,
  recordInstances,
  type InstanceRecord,
  type RecordResult,
  type SqlRunner,
} from '@lumbar/db';

interface Waiting {
  record: InstanceRecord;
  resolve: (r: RecordResult) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: instances that finish while a statement is in flight are recorded together by the next one
 * (recordInstances: one statement, one commit for all of them). With one association nothing waits (each
 * instance goes at once); with several, their commits share one round trip and one WAL flush. Each caller
 * gets its own result only once the statement that holds its row has committed. A failed batch is tried again
 * one instance at a time, so one bad row cannot fail the others.
 */
export class GroupRecorder {
  private queue: Waiting[] = [];
  private inFlight = 0;
  /** Statements run; instances recorded (batch size = recorded / statements). */
  readonly stats = { statements: 0, recorded: 0, largestBatch: 0 };

  constructor(
    private readonly sql: SqlRunner,
    private readonly maxInFlight = 2,
    private readonly maxBatch = 64,
  ) {}

  /** Takes a recorded row out again (its file could not be made durable): forgetInstance. */
  forget(instanceId: number, actor: string, why: string): Promise<boolean> {
    return forgetInstance(this.sql, instanceId, actor, why);
  }

  record(record: InstanceRecord): Promise<RecordResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async run(batch: Waiting[]): Promise<void> {
    this.stats.statements++;
    this.stats.recorded += batch.length;
    this.stats.largestBatch = Math.max(this.stats.largestBatch, batch.length);
    try {
      const results = await recordInstances(
        this.sql,
        batch.map((w) => w.record),
      );
      batch.forEach((w, i) => w.resolve(results[i]));
    } catch (err) {
      if (batch.length === 1) return batch[0].reject(err);
      await Promise.all(
        batch.map((w) =>
          recordInstances(this.sql, [w.record]).then(
            ([r]) => w.resolve(r),
            (e: unknown) => w.reject(e),
          ),
        ),
      );
    }
  }
}
