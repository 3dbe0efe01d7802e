import { closeSync, fsync, openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const fsyncFd = promisify(fsync);

/**
 * fsyncs a directory: its entries (a file linked or renamed into it, a directory made in it) survive a power
 * cut. Only the fsync goes to the thread pool; open and close are short synchronous calls (instance-file.ts).
 */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Durable directories for the receiver: `ensure` makes a directory (and its parents) once per process and
 * fsyncs the parent of each one it made, so the directory itself survives a power cut; `sync` fsyncs a
 * directory after a file was linked into it, sharing one fsync among the callers that arrive while another
 * is waiting to start (group fsync: one fsync that starts after a caller's link covers that caller).
 */
export class DurableDirs {
  private readonly made = new Set<string>();
  private readonly making = new Map<string, Promise<void>>();
  private readonly syncs = new Map<string, { queued: Promise<void> | null; last: Promise<void> }>();

  /** Makes `dir` under the root (and the folders between), each new one's entry fsynced in its parent. */
  ensure(dir: string): Promise<void> {
    if (this.made.has(dir)) return Promise.resolve();
    let p = this.making.get(dir);
    if (!p) {
      p = this.make(dir).finally(() => this.making.delete(dir));
      this.making.set(dir, p);
    }
    return p;
  }

  private async make(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true }); // the first directory it created, if any
    if (first !== undefined) {
      // every directory from `first` down to `dir` is new: fsync each one's parent (deepest first is fine:
      // they are all fsynced before anything is acknowledged)
      const parents: string[] = [];
      for (let d = dir; d.length >= first.length && d !== dirname(d); d = dirname(d))
        parents.push(dirname(d));
      await Promise.all(parents.map((d) => this.sync(d)));
    }
    this.made.add(dir);
  }

  /** Forgets what it made (a directory was removed behind its back: the next ensure() makes it again). */
  forget(dir: string): void {
    this.made.delete(dir);
  }

  /** fsyncs `dir`; concurrent callers share an fsync that had not started yet when they called. */
  sync(dir: string): Promise<void> {
    const s = this.syncs.get(dir);
    if (s?.queued) return s.queued;
    const previous = s?.last;
    const entry = s ?? { queued: null, last: Promise.resolve() };
    const mine: Promise<void> = (async () => {
      if (previous) await previous.catch(() => undefined);
      entry.queued = null; // from here on, a new caller needs a new fsync
      await fsyncDir(dir);
    })().finally(() => {
      if (entry.last === mine && !entry.queued) this.syncs.delete(dir);
    });
    entry.queued = mine;
    entry.last = mine;
    this.syncs.set(dir, entry);
    return mine;
  }
}
