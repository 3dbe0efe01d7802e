import { fork, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnalysisOutcome, AnalyzeRequest } from './engine';
import { AnalysisError, type AnalysisErrorCode } from './errors';
import type { ChildMessage, ParentMessage } from './protocol';
import { checkFindings } from './schema';
import type { AnalysisSettings } from './settings';

/** The built child entry (from src/ in tests as from dist/ in production: both resolve to dist/child.js). */
export const CHILD_MODULE = join(__dirname, '..', 'dist', 'child.js');

/** How long a new process may take to load its models before it counts as failed. */
const START_TIMEOUT_MS = 120_000;
/** How often a busy process's resident memory is read. */
const MEMORY_POLL_MS = 200;
/** How long an idle process may take to exit when asked before it is killed. */
const EXIT_GRACE_MS = 5_000;

export interface PoolLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface PoolOptions {
  settings: AnalysisSettings;
  /** Processes (LUMBAR_WORKER_CONCURRENCY); on a GPU host, one per GPU in `gpuDevices` instead. */
  size: number;
  /** An analysis running longer is stopped: its process is killed and replaced. */
  timeoutMs: number;
  /** A process whose resident memory passes this while it analyses is killed and replaced (MB). */
  memoryLimitMb: number;
  /** How many more times a study is tried, in a fresh process, after a timeout, crash or memory kill. */
  retries: number;
  /** GPU ids; used when the providers name a GPU (cuda, tensorrt): one process per GPU, each seeing only its own. */
  gpuDevices?: string[] | null;
  log?: PoolLogger;
  /** The child entry; tests of the pool itself may point it elsewhere. */
  childModule?: string;
}

export interface PoolStats {
  size: number;
  busy: number;
  queued: number;
  /** Processes started to replace one that timed out, crashed, grew too large or failed to start. */
  replacements: number;
  processes: Array<{
    pid: number | null;
    gpu: string | null;
    busy: boolean;
    studies: number;
    peakRssMb: number;
  }>;
}

interface Job {
  id: number;
  request: AnalyzeRequest;
  timeoutMs: number;
  attempt: number;
  /** When the job reached a process, for the pool's own overhead. */
  resolve: (o: PoolOutcome) => void;
  reject: (e: AnalysisError) => void;
}

/** An outcome plus what the pool measured around it. */
export interface PoolOutcome extends AnalysisOutcome {
  /** From the call to the answer, in ms (includes any wait for a free process and any retries). */
  totalMs: number;
  /** Attempts it took (1 unless a process was replaced). */
  attempts: number;
}

interface Slot {
  index: number;
  gpu: string | null;
  child: ChildProcess | null;
  ready: boolean;
  job: (Job & { startedAt: number; calledAt: number }) | null;
  killReason: { code: AnalysisErrorCode; message: string } | null;
  timers: NodeJS.Timeout[];
  studies: number;
  peakRssBytes: number;
  stderr: string;
  failedStarts: number;
}

/**
 * The processes a pool runs: `size` CPU processes, or, when the providers name a GPU (cuda, tensorrt), one
 * process per GPU of `gpuDevices` (default GPU 0), each of which will see only its own GPU.
 */
export function poolPlan(
  opts: Pick<PoolOptions, 'settings' | 'size' | 'gpuDevices'>,
): Array<{ gpu: string | null }> {
  const gpuProviders = opts.settings.providers.some((p) => p === 'cuda' || p === 'tensorrt');
  if (gpuProviders) return (opts.gpuDevices?.length ? opts.gpuDevices : ['0']).map((gpu) => ({ gpu }));
  return Array.from({ length: Math.max(1, opts.size) }, () => ({ gpu: null }));
}

const mb = (bytes: number) => Math.round(bytes / 1048576);

/** The resident memory of a process, from /proc (Linux); null where it cannot be read. */
async function rssOf(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * A pool of long-lived analysis processes. Each loads the models once (child.ts) and takes one study at a
 * time over IPC; the caller's event loop only passes messages, so it stays free while studies are analysed.
 * A process that runs past the timeout, crashes or grows past the memory limit is killed and replaced, and
 * its study is tried again (up to `retries` times) in a fresh process. Every answer is the checked findings
 * document or an AnalysisError.
 */
export class AnalysisPool {
  private readonly slots: Slot[];
  private readonly queue: Array<Job & { calledAt: number }> = [];
  private nextId = 1;
  private closing = false;
  private replacements = 0;
  private readonly childModule: string;
  private readonly respawnTimers = new Set<NodeJS.Timeout>();

  private constructor(private readonly opts: PoolOptions) {
    this.childModule = opts.childModule ?? CHILD_MODULE;
    this.slots = poolPlan(opts).map(({ gpu }, index) => ({
      index,
      gpu,
      child: null,
      ready: false,
      job: null,
      killReason: null,
      timers: [],
      studies: 0,
      peakRssBytes: 0,
      stderr: '',
      failedStarts: 0,
    }));
  }

  /** Starts every process and waits for its models; if one cannot start, all are stopped and it throws. */
  static async start(opts: PoolOptions): Promise<AnalysisPool> {
    const pool = new AnalysisPool(opts);
    const started = await Promise.allSettled(pool.slots.map((s) => pool.spawn(s)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await pool.close({ graceMs: 0 });
      throw AnalysisError.from(failed.reason);
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  /** Analyses one study in the first free process. Rejects with an AnalysisError, never anything else. */
  analyze(request: AnalyzeRequest, opts: { timeoutMs?: number } = {}): Promise<PoolOutcome> {
    if (this.closing) {
      return Promise.reject(new AnalysisError('SHUTDOWN', 'the analysis pool is stopping: study not taken'));
    }
    return new Promise<PoolOutcome>((resolve, reject) => {
      this.queue.push({
        id: this.nextId++,
        request,
        timeoutMs: opts.timeoutMs ?? this.opts.timeoutMs,
        attempt: 1,
        resolve,
        reject,
        calledAt: performance.now(),
      });
      this.dispatch();
    });
  }

  stats(): PoolStats {
    return {
      size: this.slots.length,
      busy: this.slots.filter((s) => s.job).length,
      queued: this.queue.length,
      replacements: this.replacements,
      processes: this.slots.map((s) => ({
        pid: s.child?.pid ?? null,
        gpu: s.gpu,
        busy: s.job !== null,
        studies: s.studies,
        peakRssMb: mb(s.peakRssBytes),
      })),
    };
  }

  /**
   * Stops the pool: studies still waiting are rejected with SHUTDOWN at once; studies being analysed may
   * finish for up to `graceMs`, after which their processes are killed and they are rejected with SHUTDOWN
   * (the caller releases them). Resolves when every process has exited.
   */
  async close(opts: { graceMs?: number } = {}): Promise<void> {
    this.closing = true;
    for (const t of this.respawnTimers) clearTimeout(t);
    this.respawnTimers.clear();
    for (const job of this.queue.splice(0)) {
      job.reject(new AnalysisError('SHUTDOWN', 'the node is stopping: the study was not analysed'));
    }
    const graceMs = opts.graceMs ?? 30_000;
    const deadline = Date.now() + graceMs;
    while (this.slots.some((s) => s.job) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.all(
      this.slots.map(async (slot) => {
        const child = slot.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        if (slot.job) {
          this.kill(slot, 'SHUTDOWN', `the node stopped after ${graceMs} ms while the study was analysed`);
        } else if (!slot.ready) {
          child.kill('SIGKILL'); // still loading its models: nothing to lose
        } else {
          this.post(child, { type: 'close' });
          const t = setTimeout(() => child.kill('SIGKILL'), EXIT_GRACE_MS);
          await exited;
          clearTimeout(t);
        }
        await exited;
      }),
    );
  }

  // -- processes ------------------------------------------------------------------------------------------

  private spawn(slot: Slot): Promise<void> {
    const env = { ...process.env };
    if (slot.gpu !== null) env.CUDA_VISIBLE_DEVICES = slot.gpu;
    const child = fork(this.childModule, [JSON.stringify(this.opts.settings)], {
      env,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    slot.child = child;
    slot.ready = false;
    slot.stderr = '';
    slot.killReason = null;
    child.stderr?.on('data', (d: Buffer) => {
      slot.stderr = (slot.stderr + d.toString()).slice(-2000);
    });
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const startTimer = setTimeout(() => {
        fail(
          new AnalysisError(
            'MODELS',
            `an analysis process did not load its models in ${START_TIMEOUT_MS} ms`,
          ),
        );
        child.kill('SIGKILL');
      }, START_TIMEOUT_MS);
      const fail = (e: AnalysisError) => {
        if (settled) return;
        settled = true;
        clearTimeout(startTimer);
        reject(e);
      };
      child.on('message', (m: ChildMessage) => {
        if (m.type === 'ready') {
          if (settled) return;
          settled = true;
          clearTimeout(startTimer);
          slot.ready = true;
          slot.failedStarts = 0;
          this.opts.log?.info({ pid: m.pid, gpu: slot.gpu, process: slot.index }, 'analysis process ready');
          resolve();
          this.dispatch();
        } else if (m.type === 'fatal') {
          fail(AnalysisError.fromWire(m.error));
        } else if (m.type === 'done') {
          this.onDone(slot, child, m);
        }
      });
      child.on('error', (err) => fail(AnalysisError.from(err)));
      child.on('exit', (code, signal) => {
        const tail = slot.stderr.trim().split('\n').filter(Boolean).pop();
        fail(
          new AnalysisError(
            'MODELS',
            `an analysis process exited while loading its models (${signal ?? `code ${code}`})${tail ? `: ${tail}` : ''}`,
          ),
        );
        this.onExit(slot, child, code, signal);
      });
    });
  }

  private onExit(slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.child !== child) return;
    for (const t of slot.timers.splice(0)) clearTimeout(t);
    if (!slot.ready) slot.failedStarts++;
    slot.child = null;
    slot.ready = false;
    const job = slot.job;
    slot.job = null;
    if (job) {
      const tail = slot.stderr.trim().split('\n').filter(Boolean).pop();
      const why = slot.killReason ?? {
        code: 'CRASHED' as const,
        message: `the analysis process ended unexpectedly (${signal ?? `exit code ${code}`})${tail ? `: ${tail}` : ''}`,
      };
      this.opts.log?.warn({ pid: child.pid, code: why.code, why: why.message }, 'analysis process lost');
      this.retryOrReject(job, why.code, why.message);
    }
    if (!this.closing) this.replace(slot);
  }

  private replace(slot: Slot): void {
    this.replacements++;
    const delay = Math.min(30_000, slot.failedStarts === 0 ? 0 : 1000 * 2 ** (slot.failedStarts - 1));
    const timer = setTimeout(() => {
      this.respawnTimers.delete(timer);
      if (this.closing) return;
      this.spawn(slot).catch((err: unknown) => {
        const e = AnalysisError.from(err);
        this.opts.log?.warn({ process: slot.index, why: e.message }, 'analysis process failed to start');
        // Nobody can take the waiting studies now: tell their callers rather than leave them hanging.
        if (!this.slots.some((s) => s.ready)) {
          for (const job of this.queue.splice(0)) job.reject(e);
        }
      });
    }, delay);
    this.respawnTimers.add(timer);
  }

  private kill(slot: Slot, code: AnalysisErrorCode, message: string): void {
    if (!slot.child || slot.killReason) return;
    slot.killReason = { code, message };
    slot.child.kill('SIGKILL');
  }

  private post(child: ChildProcess, m: ParentMessage): void {
    if (child.connected) child.send(m);
  }

  // -- studies --------------------------------------------------------------------------------------------

  private dispatch(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.ready || slot.job || !slot.child) continue;
      const job = this.queue.shift()!;
      const child = slot.child;
      slot.job = { ...job, startedAt: performance.now() };
      this.post(child, { type: 'analyze', id: job.id, request: job.request });
      this.opts.log?.debug(
        { pid: child.pid, process: slot.index, attempt: job.attempt },
        'analysis handed to a process',
      );
      slot.timers.push(
        setTimeout(
          () =>
            this.kill(slot, 'TIMEOUT', `the analysis took longer than ${job.timeoutMs} ms and was stopped`),
          job.timeoutMs,
        ),
      );
      const poll = async () => {
        if (slot.child !== child || slot.job?.id !== job.id || !child.pid) return;
        const rss = await rssOf(child.pid);
        if (rss !== null) {
          slot.peakRssBytes = Math.max(slot.peakRssBytes, rss);
          if (rss > this.opts.memoryLimitMb * 1048576) {
            this.kill(
              slot,
              'OUT_OF_MEMORY',
              `the analysis process grew to ${mb(rss)} MB, past the limit of ${this.opts.memoryLimitMb} MB`,
            );
            return;
          }
        }
        if (slot.child === child && slot.job?.id === job.id) {
          slot.timers.push(setTimeout(() => void poll(), MEMORY_POLL_MS));
        }
      };
      void poll();
    }
  }

  private onDone(slot: Slot, child: ChildProcess, m: Extract<ChildMessage, { type: 'done' }>): void {
    if (slot.child !== child || !slot.job || slot.job.id !== m.id) return;
    for (const t of slot.timers.splice(0)) clearTimeout(t);
    const job = slot.job;
    slot.job = null;
    slot.studies++;
    slot.peakRssBytes = Math.max(slot.peakRssBytes, m.rssBytes);
    if (m.ok) {
      try {
        const findings = checkFindings(m.outcome.findings);
        job.resolve({
          ...m.outcome,
          findings,
          totalMs: performance.now() - job.calledAt,
          attempts: job.attempt,
        });
      } catch (err) {
        job.reject(AnalysisError.from(err));
      }
    } else {
      job.reject(AnalysisError.fromWire(m.error));
    }
    this.dispatch();
  }

  private retryOrReject(job: Job & { calledAt: number }, code: AnalysisErrorCode, message: string): void {
    const poolRetry = code === 'TIMEOUT' || code === 'CRASHED' || code === 'OUT_OF_MEMORY';
    if (poolRetry && !this.closing && job.attempt <= this.opts.retries) {
      this.queue.unshift({ ...job, attempt: job.attempt + 1 });
      return;
    }
    const tries = job.attempt > 1 ? ` (${job.attempt} attempts)` : '';
    job.reject(new AnalysisError(code, `${message}${tries}`));
  }
}
