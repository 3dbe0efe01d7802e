import {
  closeSync,
  existsSync,
  fsync,
  linkSync,
  openSync,
  renameSync,
  statfsSync,
  unlinkSync,
} from 'node:fs';
import { link, mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';

const fsyncFd = promisify(fsync);

/** statfs(2) magic numbers of local file systems: ext2/3/4, XFS, Btrfs, tmpfs, overlayfs, ZFS, F2FS. */
const LOCAL_FILE_SYSTEMS = new Set([
  0xef53, 0x58465342, 0x9123683e, 0x01021994, 0x794c7630, 0x2fc12fc1, 0xf2f52010,
]);

/** Whether `dir` (or its nearest existing parent) is on a local file system; false when it cannot tell. */
export function onLocalFileSystem(dir: string): boolean {
  let d = dir;
  while (!existsSync(d) && dirname(d) !== d) d = dirname(d);
  try {
    return LOCAL_FILE_SYSTEMS.has(statfsSync(d).type);
  } catch {
    return false;
  }
}

/**
 * The short metadata calls of storing an instance: link, rename, unlink, and opening and closing a directory
 * to fsync it. On a local file system they are synchronous: tens of microseconds each, less than a trip
 * through libuv's thread pool and the wake-ups it costs on a busy machine (bench/fs-calls.js,
 * docs/BENCHMARKS.md). On a network file system (NFS, SMB: `LUMBAR_STORAGE=fs` shared between machines) each
 * is a round trip to the server, so they go to the thread pool and never hold up the other associations.
 * Data writes and fsyncs always go to the pool.
 */
export interface MetadataCalls {
  readonly synchronous: boolean;
  link(from: string, to: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsyncs a directory: its entries (a file linked or renamed into it, a directory made in it) survive a power cut. */
  fsyncDir(dir: string): Promise<void>;
}

export const SYNCHRONOUS: MetadataCalls = {
  synchronous: true,
  link: async (from, to) => linkSync(from, to),
  rename: async (from, to) => renameSync(from, to),
  unlink: async (path) => unlinkSync(path),
  fsyncDir: async (dir) => {
    const fd = openSync(dir, 'r');
    try {
      await fsyncFd(fd);
    } finally {
      closeSync(fd);
    }
  },
};

export const THREAD_POOL: MetadataCalls = {
  synchronous: false,
  link,
  rename,
  unlink,
  fsyncDir: async (dir) => {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};

/** The metadata calls for a data folder: synchronous on a local file system, through the thread pool otherwise. */
export const metadataCalls = (dataDir: string): MetadataCalls =>
  onLocalFileSystem(dataDir) ? SYNCHRONOUS : THREAD_POOL;

/**
 * Durable directories for the receiver: `ensure` makes a directory (and its parents) once per process and
 * fsyncs the parent of each one it made, so the directory itself survives a power cut; `sync` fsyncs a
 * directory after a file was linked into it, sharing one fsync among the callers that arrive while another
 * is waiting to start (group fsync: one fsync that starts after a caller's link covers that caller).
 */
export class DurableDirs {
  constructor(private readonly calls: MetadataCalls = THREAD_POOL) {}

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
      await this.calls.fsyncDir(dir);
    })().finally(() => {
      if (entry.last === mine && !entry.queued) this.syncs.delete(dir);
    });
    entry.queued = mine;
    entry.last = mine;
    this.syncs.set(dir, entry);
    return mine;
  }
}
