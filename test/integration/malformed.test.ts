import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { LumbarError, createLogger } from '@lumbar/core';
import { decodeFrames, readPart10 } from '@lumbar/dicom';
import { openQueues, redisConnection, type Queues } from '@lumbar/jobs';
import { startReceiver, type Receiver } from '@lumbar/receiver';
import { findFiles, makeTmpDir } from '../helpers/files';
import { useTestDatabase } from '../helpers/db';
import { testConfig } from '../helpers/services';
import { runTool } from '../helpers/run';
import { repoRoot } from '../helpers/shared';

/**
 * Issue 17, "Bad input": every file of a generated corpus of malformed Part 10 files
 * (scripts/make-malformed-corpus.js, from the shared real samples and phantom instances) goes to the real
 * receiver over DIMSE, many per association. Each must be answered with the right failure status within 5 s
 * and leave nothing behind (no row, no file in instances/, no partial file in incoming/); the association
 * must still store a well-formed instance afterwards; the receiver's memory must stay bounded.
 */

interface SendPlan {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  dataSetOffset: number;
}
interface Entry {
  file: string;
  category: string;
  what: string;
  dimse: SendPlan;
  expect: string;
}
interface Manifest {
  files: Entry[];
  valid: Entry[];
}

const BATCH = 60; // malformed files per association, then one well-formed instance
const ANSWER_MS = 5000;

// ---------------------------------------------------------------------------------------------------------
// A minimal DICOM upper layer SCU (PS3.8): it sends the data set bytes exactly as given, which dcmjs-dimse
// and storescu cannot do (they parse, transcode or refuse a damaged file before sending it).

const pad = (s: string, n: number) => Buffer.from(s.padEnd(n, ' ').slice(0, n), 'latin1');
const u16be = (v: number) => Buffer.from([(v >> 8) & 0xff, v & 0xff]);
const u32be = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};
const item = (type: number, body: Buffer) =>
  Buffer.concat([Buffer.from([type, 0]), u16be(body.length), body]);
const pdu = (type: number, body: Buffer) => Buffer.concat([Buffer.from([type, 0]), u32be(body.length), body]);
const uid = (s: string) => Buffer.from(s.length % 2 ? `${s}\0` : s, 'latin1');

/** An implicit VR little endian element of the command group. */
function commandElement(element: number, value: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(0x0000, 0);
  h.writeUInt16LE(element, 2);
  h.writeUInt32LE(value.length, 4);
  return Buffer.concat([h, value]);
}
const us = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};

function cStoreCommand(messageId: number, plan: SendPlan): Buffer {
  const body = Buffer.concat([
    commandElement(0x0002, uid(plan.sopClassUid)),
    commandElement(0x0100, us(0x0001)), // C-STORE-RQ
    commandElement(0x0110, us(messageId)),
    commandElement(0x0700, us(0)), // medium priority
    commandElement(0x0800, us(0x0000)), // a data set follows
    commandElement(0x1000, uid(plan.sopInstanceUid)),
  ]);
  const length = Buffer.alloc(4);
  length.writeUInt32LE(body.length);
  return Buffer.concat([commandElement(0x0000, length), body]);
}

/** Status (0000,0900) of a response command set. */
function statusOf(command: Buffer): number {
  for (let p = 0; p + 8 <= command.length;) {
    const element = command.readUInt16LE(p + 2);
    const length = command.readUInt32LE(p + 4);
    if (element === 0x0900) return command.readUInt16LE(p + 8);
    p += 8 + length;
  }
  return -1;
}

class RawScu {
  private buffered = Buffer.alloc(0);
  private waiters: Array<(pdu: { type: number; body: Buffer } | null) => void> = [];
  private pdus: Array<{ type: number; body: Buffer } | null> = [];
  private messageId = 0;
  closed = false;
  /** Accepted presentation context id per "abstract|transfer". */
  readonly contexts = new Map<string, number>();

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => this.onData(d));
    const end = () => {
      this.closed = true;
      this.push(null);
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  private push(p: { type: number; body: Buffer } | null) {
    const w = this.waiters.shift();
    if (w) w(p);
    else this.pdus.push(p);
  }

  private onData(d: Buffer) {
    this.buffered = Buffer.concat([this.buffered, d]);
    while (this.buffered.length >= 6) {
      const length = this.buffered.readUInt32BE(2);
      if (this.buffered.length < 6 + length) break;
      this.push({ type: this.buffered[0], body: this.buffered.subarray(6, 6 + length) });
      this.buffered = this.buffered.subarray(6 + length);
    }
  }

  private next(timeoutMs: number): Promise<{ type: number; body: Buffer } | null> {
    if (this.pdus.length) return Promise.resolve(this.pdus.shift() ?? null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (p: { type: number; body: Buffer } | null) => {
        clearTimeout(timer);
        resolve(p);
      };
      this.waiters.push(done);
    });
  }

  static async associate(port: number, pairs: Array<[string, string]>): Promise<RawScu> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    socket.setNoDelay(true);
    const scu = new RawScu(socket);
    const ids = new Map<number, string>();
    const contexts = pairs.map(([abstract, transfer], i) => {
      const id = 2 * i + 1;
      ids.set(id, `${abstract}|${transfer}`);
      return item(
        0x20,
        Buffer.concat([
          Buffer.from([id, 0, 0, 0]),
          item(0x30, Buffer.from(abstract, 'latin1')),
          item(0x40, Buffer.from(transfer, 'latin1')),
        ]),
      );
    });
    const rq = Buffer.concat([
      u16be(1),
      u16be(0),
      pad('LUMBAR', 16),
      pad('MALFORMED', 16),
      Buffer.alloc(32),
      item(0x10, Buffer.from('1.2.840.10008.3.1.1.1', 'latin1')),
      ...contexts,
      item(
        0x50,
        Buffer.concat([
          item(0x51, u32be(65536)),
          item(0x52, Buffer.from('1.2.826.0.1.3680043.10.999', 'latin1')),
        ]),
      ),
    ]);
    socket.write(pdu(0x01, rq));
    const ac = await scu.next(ANSWER_MS);
    if (!ac || ac.type !== 0x02) throw new Error(`association not accepted (PDU ${ac?.type})`);
    for (let p = 68; p + 4 <= ac.body.length;) {
      const type = ac.body[p];
      const length = ac.body.readUInt16BE(p + 2);
      if (type === 0x21 && ac.body[p + 6] === 0) {
        const id = ac.body[p + 4];
        const key = ids.get(id);
        if (key) scu.contexts.set(key, id);
      }
      p += 4 + length;
    }
    return scu;
  }

  /** One C-STORE: the command, then the data set in P-DATA-TF PDUs of at most 16 KiB; resolves to its status. */
  async store(plan: SendPlan, dataSet: Buffer): Promise<{ status: number; ms: number }> {
    const pc = this.contexts.get(`${plan.sopClassUid}|${plan.transferSyntaxUid}`);
    if (pc === undefined)
      throw new Error(`no accepted context for ${plan.sopClassUid} ${plan.transferSyntaxUid}`);
    const pdv = (control: number, data: Buffer) =>
      pdu(0x04, Buffer.concat([u32be(data.length + 2), Buffer.from([pc, control]), data]));
    const t0 = performance.now();
    this.socket.write(pdv(0x03, cStoreCommand(++this.messageId, plan)));
    const chunk = 16 * 1024;
    if (dataSet.length === 0) this.socket.write(pdv(0x02, dataSet));
    for (let p = 0; p < dataSet.length; p += chunk) {
      const last = p + chunk >= dataSet.length;
      this.socket.write(pdv(last ? 0x02 : 0x00, dataSet.subarray(p, p + chunk)));
    }
    const rsp = await this.next(ANSWER_MS);
    const ms = performance.now() - t0;
    if (!rsp) throw new Error('association closed by the receiver');
    if (rsp.type !== 0x04) throw new Error(`PDU type ${rsp.type} instead of P-DATA-TF`);
    // one PDV: 4-byte length, context id, control header, then the command set
    return { status: statusOf(rsp.body.subarray(6)), ms };
  }

  async release(): Promise<void> {
    this.socket.write(pdu(0x05, Buffer.alloc(4)));
    const rp = await this.next(ANSWER_MS);
    if (!rp || rp.type !== 0x06) throw new Error(`release answered with ${rp?.type}`);
    this.socket.end();
  }
}

// ---------------------------------------------------------------------------------------------------------

const t = useTestDatabase();
let receiver: Receiver;
let queues: Queues;
let redis: ReturnType<typeof redisConnection>;
let dataDir: string;
let corpus: string;
let manifest: Manifest;

beforeAll(async () => {
  corpus = makeTmpDir('lumbar-malformed-');
  const run = await runTool(
    process.execPath,
    [
      path.join(repoRoot, 'scripts', 'make-malformed-corpus.js'),
      '--out',
      corpus,
      '--seed',
      '17',
      '--valid',
      '12',
    ],
    { timeoutMs: 120_000 },
  );
  if (run.code !== 0) throw new Error(`make-malformed-corpus failed:\n${run.stderr}`);
  manifest = JSON.parse(readFileSync(path.join(corpus, 'manifest.json'), 'utf8')) as Manifest;
  const config = testConfig(t.url, {
    LUMBAR_ALLOWED_CALLERS: 'MALFORMED@127.0.0.1',
    LUMBAR_STABLE_SECONDS: '600',
  });
  dataDir = config.dataDir;
  redis = redisConnection(config.redisUrl, 'producer');
  queues = openQueues(redis, config.queuePrefix);
  receiver = await startReceiver({ config, db: t.db, queues, log: createLogger('receiver', 'silent') });
});

afterAll(async () => {
  await receiver?.close(1000);
  await queues?.studies.obliterate({ force: true }).catch(() => undefined);
  await queues?.close();
  redis?.disconnect();
});

const hex = (s: number) => `0x${s.toString(16).toUpperCase().padStart(4, '0')}`;

describe('malformed DICOM corpus', () => {
  it('has at least 200 files in every category the issue names', () => {
    expect(manifest.files.length).toBeGreaterThanOrEqual(200);
    const categories = new Set(manifest.files.map((f) => f.category));
    for (const c of [
      'truncated',
      'wrong-vr',
      'length-past-end',
      'huge-length',
      'deep-nesting',
      'meta',
      'empty-ts',
      'uid-mismatch',
      'zero',
      'not-dicom',
    ]) {
      expect(categories).toContain(c);
    }
    expect(manifest.valid.length).toBeGreaterThanOrEqual(Math.ceil(manifest.files.length / BATCH));
  });

  it('every file read in-process gives a typed InputError (the data sets that are only mismatched parse)', async () => {
    const untyped: string[] = [];
    for (const e of manifest.files) {
      const name = e.file;
      const t0 = performance.now();
      try {
        await decodeFrames(readPart10(readFileSync(path.join(corpus, e.file)), name), name);
        if (e.category !== 'uid-mismatch') untyped.push(`${name} (${e.what}): accepted`);
      } catch (err) {
        if (!(err instanceof LumbarError)) untyped.push(`${name} (${e.what}): ${String(err)}`);
      }
      if (performance.now() - t0 > ANSWER_MS) untyped.push(`${name} (${e.what}): took over 5 s`);
    }
    expect(untyped).toEqual([]);
  });

  it('the receiver answers each with its failure status within 5 s, stores nothing, and keeps the association usable', async () => {
    const wrong: string[] = [];
    let slowest = 0;
    const rss0 = process.memoryUsage().rss;
    let rssPeak = rss0;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);
    const started = Date.now();
    try {
      for (let b = 0; b * BATCH < manifest.files.length; b++) {
        const batch = manifest.files.slice(b * BATCH, (b + 1) * BATCH);
        const control = manifest.valid[b];
        const pairs = new Map<string, [string, string]>();
        for (const e of [...batch, control]) {
          pairs.set(`${e.dimse.sopClassUid}|${e.dimse.transferSyntaxUid}`, [
            e.dimse.sopClassUid,
            e.dimse.transferSyntaxUid,
          ]);
        }
        const scu = await RawScu.associate(receiver.port, [...pairs.values()]);
        for (const e of batch) {
          const bytes = readFileSync(path.join(corpus, e.file)).subarray(e.dimse.dataSetOffset);
          try {
            const { status, ms } = await scu.store(e.dimse, bytes);
            slowest = Math.max(slowest, ms);
            if (hex(status) !== `0x${e.expect}` || ms > ANSWER_MS) {
              wrong.push(
                `${e.file} (${e.what}): ${hex(status)} in ${Math.round(ms)} ms, expected 0x${e.expect}`,
              );
            }
          } catch (err) {
            wrong.push(`${e.file} (${e.what}): ${(err as Error).message}`);
            break;
          }
        }
        // the association is still usable: a well-formed instance is stored
        const ok = await scu.store(
          control.dimse,
          readFileSync(path.join(corpus, control.file)).subarray(control.dimse.dataSetOffset),
        );
        expect({ batch: b, status: hex(ok.status) }).toEqual({ batch: b, status: '0x0000' });
        await scu.release();
      }
    } finally {
      clearInterval(sampler);
    }
    const growthMb = (rssPeak - rss0) / 2 ** 20;
    process.stdout.write(
      `malformed corpus: ${manifest.files.length} files in ${Math.ceil(manifest.files.length / BATCH)} ` +
        `associations, ${Date.now() - started} ms, slowest answer ${Math.round(slowest)} ms, ` +
        `peak RSS growth ${growthMb.toFixed(0)} MB\n`,
    );
    expect(wrong).toEqual([]);
    expect(growthMb).toBeLessThan(256);

    // nothing persisted but the controls: rows, files in instances/, partial files in incoming/
    const sent = Math.ceil(manifest.files.length / BATCH);
    const controls = manifest.valid.slice(0, sent).map((v) => v.dimse.sopInstanceUid);
    const rows = await t.db.instance.findMany({ select: { sopInstanceUid: true } });
    expect(rows.map((r) => r.sopInstanceUid).sort()).toEqual([...controls].sort());
    expect(findFiles(path.join(dataDir, 'instances'), '.dcm')).toHaveLength(sent);
    const incoming = path.join(dataDir, 'incoming');
    expect(existsSync(incoming) ? readdirSync(incoming) : []).toEqual([]);
  }, 300_000);
});
