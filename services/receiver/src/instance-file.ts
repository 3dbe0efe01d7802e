import { createHash, randomUUID } from 'node:crypto';
import { closeSync, fstatSync, fsync, mkdirSync, open, read, writev } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import { IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME } from '@lumbar/dicom';

export interface StoreCommand {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  callingAeTitle: string;
}

/**
 * Up to this many bytes of an instance are also kept in memory while they stream to disk, so that the header
 * check reads them without reading the file back; a larger instance (a big multi-frame object) is read back
 * from its file. Bounds the memory of one association to about this plus one PDU.
 */
export const KEEP_IN_MEMORY_BYTES = 8 * 1024 * 1024;

/** How much dcmjs-dimse may hand us before it waits for the disk (it awaits 'drain' past this). */
const HIGH_WATER_MARK = 1024 * 1024;

/** One element of the file meta group, explicit VR little endian (PS3.10 7.1), value padded to even length. */
function metaElement(element: number, vr: string, value: Buffer): Buffer {
  const padded =
    value.length % 2 ? Buffer.concat([value, Buffer.from(vr === 'UI' || vr === 'OB' ? [0] : [0x20])]) : value;
  const long = vr === 'OB';
  const head = Buffer.alloc(long ? 12 : 8);
  head.writeUInt16LE(0x0002, 0);
  head.writeUInt16LE(element, 2);
  head.write(vr, 4, 'latin1');
  if (long) head.writeUInt32LE(padded.length, 8);
  else head.writeUInt16LE(padded.length, 6);
  return Buffer.concat([head, padded]);
}

/**
 * The 128-byte preamble, "DICM" and the file meta information of a Part 10 file whose data set follows as
 * received: the same bytes as @lumbar/dicom's part10Header (instance-file.test.ts compares them), written
 * without dcmjs (a few microseconds instead of most of a millisecond per instance).
 */
export function metaHeader(m: {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  sourceAeTitle?: string;
}): Buffer {
  const s = (v: string) => Buffer.from(v, 'latin1');
  const elements = [
    metaElement(0x0001, 'OB', Buffer.from([0, 1])),
    metaElement(0x0002, 'UI', s(m.sopClassUid)),
    metaElement(0x0003, 'UI', s(m.sopInstanceUid)),
    metaElement(0x0010, 'UI', s(m.transferSyntaxUid)),
    metaElement(0x0012, 'UI', s(IMPLEMENTATION_CLASS_UID)),
    metaElement(0x0013, 'SH', s(IMPLEMENTATION_VERSION_NAME)),
  ];
  if (m.sourceAeTitle) elements.push(metaElement(0x0016, 'AE', s(m.sourceAeTitle)));
  const body = Buffer.concat(elements);
  const groupLength = Buffer.alloc(4);
  groupLength.writeUInt32LE(body.length);
  const preamble = Buffer.alloc(132);
  preamble.write('DICM', 128, 'latin1');
  return Buffer.concat([preamble, metaElement(0x0000, 'UL', groupLength), body]);
}

const openFile = promisify(open);
const writevAt = promisify(writev);
const readAt = promisify(read);
const fsyncFd = promisify(fsync);

/** Incoming folders known to exist in this process (made once; made again if a create finds it gone). */
const madeIncoming = new Set<string>();

/**
 * Creates `incoming/<uuid>.part` (exclusive), making the folder when this process has not yet or it has gone.
 * The create goes to libuv's thread pool: with fsyncs running it can wait for the file system's journal
 * (0.36 ms a call on the main thread, measured), longer than the trip. close() is synchronous: after the
 * fsync it is a short call on any file system, cheaper than the pool's wake-ups (MetadataCalls in durable.ts
 * says which other calls are).
 */
async function createIncoming(incomingDir: string, path: string): Promise<number> {
  if (!madeIncoming.has(incomingDir)) {
    mkdirSync(incomingDir, { recursive: true });
    madeIncoming.add(incomingDir);
  }
  try {
    return await openFile(path, 'wx+');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(incomingDir, { recursive: true }); // removed behind our back: once more
    return await openFile(path, 'wx+');
  }
}

/**
 * Whether the Part 10 file at `path` holds a data set whose SHA-256 (without the meta header) is `sha256`, and
 * if so fsyncs it: a row's file is trusted only after this when a copy of the same instance arrives again. A
 * row is recorded while its file is fsynced (store.ts), so after a power cut a row can point to a file the
 * disk never got whole; its re-send, checked here, replaces it. False for a missing, short or other file.
 */
export async function storedIntact(path: string, sha256: string): Promise<boolean> {
  let fd: number | null = null;
  try {
    fd = await openFile(path, 'r');
    const { size } = fstatSync(fd);
    // preamble, "DICM", then (0002,0000) UL: the length of the rest of the meta group
    const head = Buffer.alloc(144);
    if ((await readAt(fd, head, 0, 144, 0)).bytesRead < 144) return false;
    if (head.toString('latin1', 128, 132) !== 'DICM' || head.readUInt32LE(132) !== 0x00000002) return false;
    const dataSetAt = 144 + head.readUInt32LE(140);
    if (dataSetAt > size) return false;
    // the data set, hashed a chunk at a time (an instance may be far larger than what we keep in memory)
    const hash = createHash('sha256');
    const chunk = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(size - dataSetAt, 1)));
    for (let at = dataSetAt; at < size;) {
      const n = (await readAt(fd, chunk, 0, Math.min(chunk.length, size - at), at)).bytesRead;
      if (n === 0) return false;
      hash.update(chunk.subarray(0, n));
      at += n;
    }
    if (hash.digest('hex') !== sha256) return false;
    await fsyncFd(fd);
    return true;
  } catch {
    return false;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/**
 * Writes every byte of `buffers` at `position`. A write may store fewer bytes than asked without an error (a
 * nearly full disk: 8 KB of 16 KB, found by test/faults/disk-full.fault.ts); the rest is written again, and a
 * write that stores nothing is ENOSPC. Without this a file cut short was acknowledged.
 */
async function writeAll(fd: number, buffers: Buffer[], position: number): Promise<void> {
  let rest = buffers.filter((b) => b.length > 0);
  let at = position;
  while (rest.length > 0) {
    const { bytesWritten } = await writevAt(fd, rest, at);
    if (bytesWritten === 0) {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }
    at += bytesWritten;
    let skip = bytesWritten;
    while (rest.length > 0 && skip >= rest[0].length) skip -= rest.shift()!.length;
    if (skip > 0) rest = [rest[0].subarray(skip), ...rest.slice(1)];
  }
}

/**
 * One incoming C-STORE data set, streamed to `incoming/<uuid>.part` as a Part 10 file (meta header from
 * the command, then the data set bytes as they arrive, written through one file descriptor that store.ts then
 * fsyncs). Up to KEEP_IN_MEMORY_BYTES are also kept for the header check; a larger instance is never held
 * whole in memory. Errors are recorded, never thrown: dcmjs-dimse would drop the association without a response.
 */
export class InstanceFile extends Writable {
  readonly path: string;
  /** When the C-STORE data set began to arrive (performance.now()). */
  readonly startedAt = performance.now();
  /** How long the association was idle before this data set (since our previous answer on it), if known. */
  senderMs?: number;
  /** Bytes of the data set (without the meta header). */
  size = 0;
  failure: Error | null = null;
  private readonly header: Buffer;
  /** The incoming file's descriptor once created; null when it could not be (the reason is in `failure`). */
  private readonly opened: Promise<number | null>;
  private kept: Buffer[] | null;
  private keptBytes = 0;
  private handleClosed = false;
  /** A streamed write in progress (a large instance): close() waits for it, the descriptor must outlive it. */
  private writing: Promise<void> = Promise.resolve();
  private persisted: Promise<void> | undefined;
  private markWritten!: () => void;
  /** Resolves once persist() has written the data set into the file (not yet fsynced) or failed to. */
  private readonly writtenP = new Promise<void>((resolve) => (this.markWritten = resolve));
  /** SHA-256 of the data set, updated as it arrives. */
  private readonly hash = createHash('sha256');
  private digest: string | undefined;

  /**
   * @param command what the C-STORE command and its presentation context said: the SOP Class and Instance
   *   UIDs, the accepted transfer syntax and the caller; written into the file meta and checked in store.ts.
   */
  constructor(
    incomingDir: string,
    readonly command: StoreCommand,
  ) {
    super({ highWaterMark: HIGH_WATER_MARK });
    this.path = join(incomingDir, `${randomUUID()}.part`);
    this.header = metaHeader({ ...command, sourceAeTitle: command.callingAeTitle });
    this.kept = [this.header];
    this.keptBytes = this.header.length;
    this.opened = createIncoming(incomingDir, this.path).catch((err: unknown) => {
      this.fail(err);
      return null;
    });
  }

  private fail(err: unknown): void {
    this.failure ??= err instanceof Error ? err : new Error(String(err));
  }

  /**
   * Bytes are kept in memory and written in one writev once the data set is whole; past KEEP_IN_MEMORY_BYTES
   * what is kept is written and every further chunk streams to the file as it comes.
   */
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    if (this.kept && this.keptBytes + chunk.length <= KEEP_IN_MEMORY_BYTES) {
      this.kept.push(chunk);
      this.keptBytes += chunk.length;
      return cb();
    }
    // the header and what was kept go first, in the same writev
    const pending = this.kept ? [...this.kept, chunk] : [chunk];
    const at = this.header.length + this.size - pending.reduce((n, b) => n + b.length, 0);
    this.kept = null;
    if (this.failure) return cb();
    this.writing = this.opened
      .then((fd) => (fd === null ? undefined : writeAll(fd, pending, at)))
      .catch((err: unknown) => this.fail(err))
      .finally(() => cb());
  }

  /** Waits until the incoming file exists (it is created while the data arrive); rejects if it could not be. */
  async created(): Promise<void> {
    if ((await this.opened) === null) throw this.failure ?? new Error('no file');
  }

  /** Waits until every byte has arrived (kept in memory, or written for a large instance). */
  async received(): Promise<void> {
    if (!this.writableFinished) await new Promise<void>((r) => this.once('finish', () => r()));
  }

  /**
   * Writes what is kept in memory (one writev) and fsyncs the file through the descriptor that wrote it: after
   * this it survives a power cut. Never rejects: a failure is in `failure`.
   */
  persist(): Promise<void> {
    this.persisted ??= this.writeAndSync();
    return this.persisted;
  }

  private async writeAndSync(): Promise<void> {
    let fd: number | null = null;
    try {
      await this.received();
      fd = await this.opened;
      if (this.handleClosed) this.fail(new Error('the incoming file was closed before it was written'));
      if (this.failure || fd === null) return;
      if (this.kept) await writeAll(fd, this.kept, 0); // header and data set in one call
    } catch (err) {
      this.fail(err);
      return;
    } finally {
      this.markWritten();
    }
    try {
      await fsyncFd(fd);
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * Resolves once persist() has written the whole data set into the file, before its fsync ends, or failed to
   * (then `failure` says why). Never rejects.
   */
  written(): Promise<void> {
    return this.writtenP;
  }

  /** SHA-256 (hex) of the data set as received, without the meta header (once it has all arrived). */
  sha256(): string {
    if (!this.writableFinished) throw new Error('sha256() before the data set has arrived');
    return (this.digest ??= this.hash.digest('hex'));
  }

  /**
   * The Part 10 file as the chunks it arrived in (the meta header first), without copying them; a large
   * instance, not kept in memory, is read back from its file as one chunk.
   */
  async parts(): Promise<Buffer[]> {
    await this.received();
    return this.kept ? [...this.kept] : [await this.bytes()];
  }

  /** The whole Part 10 file: the bytes kept in memory, or read back from the file for a large instance. */
  async bytes(): Promise<Buffer> {
    await this.received();
    if (this.kept) return Buffer.concat(this.kept, this.keptBytes);
    const fd = await this.opened;
    if (fd === null || this.handleClosed) throw this.failure ?? new Error('no file');
    const buf = Buffer.allocUnsafe(this.header.length + this.size);
    let at = 0;
    for (let n = -1; n !== 0 && at < buf.length; at += n)
      n = (await readAt(fd, buf, at, buf.length - at, at)).bytesRead;
    return buf.subarray(0, at);
  }

  /** Closes the file (once, after persist() if it runs) and lets the kept bytes go. */
  async close(): Promise<void> {
    await this.persisted;
    await this.writing; // a descriptor closed under a queued write could be another file's by then
    this.kept = null;
    if (this.handleClosed) return;
    this.handleClosed = true;
    const fd = await this.opened;
    if (fd === null) return;
    try {
      closeSync(fd);
    } catch {
      /* closing a descriptor that wrote and fsynced: nothing left to lose */
    }
  }

  /** Closes and removes the incoming file (a refused or failed instance, or once it is linked in place). */
  async discard(): Promise<void> {
    await this.close();
    await rm(this.path, { force: true }).catch(() => undefined);
  }
}
