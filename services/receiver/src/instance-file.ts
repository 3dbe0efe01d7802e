import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { part10Header } from '@lumbar/dicom';

export interface StoreCommand {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  callingAeTitle: string;
}

/**
 * One incoming C-STORE data set, streamed to `incoming/<uuid>.part` as a Part 10 file (meta header from
 * the command, then the data set bytes as they arrive): an instance is never held whole in memory.
 * Errors are recorded, never thrown: dcmjs-dimse would drop the association without a response.
 */
export class InstanceFile extends Writable {
  readonly path: string;
  readonly hash = createHash('sha256');
  /** When the C-STORE command arrived (performance.now()): the data set streams in after it. */
  readonly startedAt = performance.now();
  size = 0;
  failure: Error | null = null;
  private readonly file: WriteStream;
  private readonly fileClosed: Promise<void>;

  /**
   * @param command what the C-STORE command and its presentation context said: the SOP Class and Instance
   *   UIDs, the accepted transfer syntax and the caller; written into the file meta and checked in store.ts.
   */
  constructor(
    incomingDir: string,
    readonly command: StoreCommand,
  ) {
    super();
    mkdirSync(incomingDir, { recursive: true });
    this.path = join(incomingDir, `${randomUUID()}.part`);
    this.file = createWriteStream(this.path, { flags: 'wx' });
    this.fileClosed = new Promise((resolve) => this.file.once('close', () => resolve()));
    this.file.on('error', (err) => {
      this.failure ??= err;
    });
    try {
      this.file.write(part10Header({ ...command, sourceAeTitle: command.callingAeTitle }));
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
    }
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    if (this.failure) return cb();
    this.file.write(chunk, () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.file.end();
    cb();
  }

  /** Waits until every byte is written and the file is closed (not yet durable). */
  async written(): Promise<void> {
    if (!this.writableFinished) await new Promise<void>((r) => this.once('finish', () => r()));
    await this.fileClosed;
  }

  /** fsyncs the written file: after this it survives a power cut (its directory entry: see store.ts). */
  async sync(): Promise<void> {
    if (this.failure) return;
    try {
      const fh = await open(this.path, 'r+');
      await fh.sync();
      await fh.close();
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
    }
  }
}
