import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ScpContext } from '../scp';
import { COMMAND, decodeCommand, encodeCommand, TAG } from './command';
import {
  decodePData,
  encodeAbort,
  encodeAssociateRq,
  encodePData,
  encodeRelease,
  pdu,
  PDU,
  PduReader,
  type PresentationContextRq,
} from './pdu';
import { createLeanServer, type LeanServer } from './server';

const MR = '1.2.840.10008.5.1.4.1.1.4';
const IMPLICIT = '1.2.840.10008.1.2';
const EXPLICIT = '1.2.840.10008.1.2.1';
const VERIFICATION = '1.2.840.10008.1.1';

/** What the association logged, as [level, message, fields]. */
type Line = [string, string, Record<string, unknown>];

function fakeContext(dataDir: string, lines: Line[], over: Partial<ScpContext['dicom']> = {}): ScpContext {
  const at = (level: string) => (fields: Record<string, unknown>, msg: string) =>
    lines.push([level, msg, fields]);
  return {
    log: { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') },
    queues: {}, // no Redis: the metrics hooks record nothing
    dataDir,
    dicom: {
      aeTitle: 'LUMBAR',
      allowedCallers: [{ aeTitle: '*', host: '*' }],
      maxAssociations: 2,
      sopClasses: [MR],
      transferSyntaxes: [IMPLICIT, EXPLICIT],
      ...over,
    },
    active: new Set(),
  } as unknown as ScpContext;
}

/** A test SCU on a raw socket: sends PDUs, reads them back one at a time. */
class Peer {
  readonly socket: net.Socket;
  private readonly reader = new PduReader(1 << 24);
  private readonly queue: { type: number; body: Buffer }[] = [];
  private waiting: (() => void) | null = null;
  closed: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (c: Buffer) => {
      this.reader.push(c);
      for (let p = this.reader.next(); p; p = this.reader.next()) this.queue.push(p);
      this.waiting?.();
    });
    this.closed = new Promise((r) => this.socket.on('close', () => r()));
    this.socket.on('close', () => this.waiting?.());
    this.socket.on('error', () => undefined);
  }

  send(...bufs: Buffer[]): void {
    for (const b of bufs) this.socket.write(b);
  }

  async next(): Promise<{ type: number; body: Buffer } | null> {
    while (this.queue.length === 0) {
      if (this.socket.destroyed || this.socket.readableEnded) return null;
      await new Promise<void>((r) => (this.waiting = r));
    }
    return this.queue.shift()!;
  }

  async associate(
    contexts: PresentationContextRq[] = [
      { id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] },
    ],
    maxPduLength = 16384,
    calledAeTitle = 'LUMBAR',
  ) {
    this.send(
      encodeAssociateRq({
        calledAeTitle,
        callingAeTitle: 'TESTSCU',
        presentationContexts: contexts,
        maxPduLength,
        implementationClassUid: '1.2.3',
      }),
    );
    return this.next();
  }

  /** The command of the next P-DATA-TF message (all its fragments). */
  async response() {
    const parts: Buffer[] = [];
    let pdus = 0;
    for (;;) {
      const p = await this.next();
      if (!p || p.type !== PDU.pData) throw new Error(`expected P-DATA-TF, got ${p?.type}`);
      pdus++;
      for (const v of decodePData(p.body)) {
        parts.push(v.data);
        if (v.last) return { command: decodeCommand(Buffer.concat(parts)), pdus, contextId: v.contextId };
      }
    }
  }

  end(): void {
    this.socket.destroy();
  }
}

const echoRq = (id: number) =>
  encodeCommand([
    [TAG.affectedSopClassUid, 'UI', VERIFICATION],
    [TAG.commandField, 'US', COMMAND.cEchoRq],
    [TAG.messageId, 'US', id],
    [TAG.commandDataSetType, 'US', 0x0101],
  ]);

const storeRq = (id: number, dataSet = true) =>
  encodeCommand([
    [TAG.affectedSopClassUid, 'UI', MR],
    [TAG.commandField, 'US', COMMAND.cStoreRq],
    [TAG.messageId, 'US', id],
    [TAG.priority, 'US', 0],
    [TAG.commandDataSetType, 'US', dataSet ? 0x0000 : 0x0101],
    [TAG.affectedSopInstanceUid, 'UI', '1.2.3.4.5'],
  ]);

describe('lean SCP association (PS3.8 state machine over a socket)', () => {
  let dir: string;
  let lines: Line[];
  let lean: LeanServer;
  let port: number;
  const peers: Peer[] = [];

  async function start(over: Partial<ScpContext['dicom']> = {}, timers = {}) {
    lean = createLeanServer(fakeContext(dir, lines, over), undefined, timers);
    await new Promise<void>((r) => lean.server.listen(0, '127.0.0.1', () => r()));
    port = (lean.server.address() as AddressInfo).port;
  }
  const peer = () => {
    const p = new Peer(port);
    peers.push(p);
    return p;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lumbar-dimse-'));
    lines = [];
  });
  afterEach(async () => {
    for (const p of peers.splice(0)) p.end();
    lean?.destroyAll();
    await new Promise<void>((r) => lean.server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts, negotiates each presentation context, answers C-ECHO in order and releases', async () => {
    await start();
    const p = peer();
    const ac = await p.associate([
      { id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] },
      { id: 3, abstractSyntax: MR, transferSyntaxes: ['1.2.840.10008.1.2.4.50', EXPLICIT, IMPLICIT] },
      { id: 5, abstractSyntax: MR, transferSyntaxes: ['1.2.840.10008.1.2.4.50'] },
      { id: 7, abstractSyntax: '1.2.840.10008.5.1.4.1.1.2', transferSyntaxes: [IMPLICIT] },
    ]);
    expect(ac?.type).toBe(PDU.associateAc);
    const body = ac!.body;
    // results by context id, and the accepted transfer syntax
    const results: [number, number, string][] = [];
    for (let at = 68; at < body.length; at += 4 + body.readUInt16BE(at + 2)) {
      if (body[at] !== 0x21) continue;
      const len = body.readUInt16BE(at + 10);
      results.push([body[at + 4], body[at + 6], body.toString('latin1', at + 12, at + 12 + len)]);
    }
    expect(results).toEqual([
      [1, 0, IMPLICIT],
      [3, 0, EXPLICIT],
      [5, 4, '1.2.840.10008.1.2.4.50'],
      [7, 3, IMPLICIT],
    ]);
    expect(lines.map((l) => l[1])).toContain('association accepted');
    p.send(...encodePData(1, true, echoRq(7), 0), ...encodePData(1, true, echoRq(8), 0));
    for (const id of [7, 8]) {
      const { command } = await p.response();
      expect(command.commandField).toBe(COMMAND.cEchoRsp);
      expect(command.us(TAG.messageIdBeingRespondedTo)).toBe(id);
      expect(command.us(TAG.status)).toBe(0);
    }
    p.send(encodeRelease(PDU.releaseRq));
    expect((await p.next())?.type).toBe(PDU.releaseRp);
    await p.closed;
  });

  it('rejects a wrong called AE title, a caller not allowed and too many associations, as scp.ts does', async () => {
    await start({ allowedCallers: [{ aeTitle: 'TESTSCU', host: '127.0.0.1' }], maxAssociations: 1 });
    const rj = async (p: Peer, called = 'LUMBAR') => {
      const r = await p.associate(undefined, 16384, called);
      expect(r?.type).toBe(PDU.associateRj);
      return [...r!.body.subarray(1, 4)];
    };
    expect(await rj(peer(), 'OTHER')).toEqual([1, 1, 7]);
    const first = peer();
    expect((await first.associate())?.type).toBe(PDU.associateAc);
    expect(await rj(peer())).toEqual([2, 3, 2]);
    expect(lines.filter((l) => l[1] === 'association rejected').map((l) => l[2].why)).toEqual([
      'called AE title',
      'too many associations',
    ]);
  });

  it('rejects protocol version 2 only (PS3.8 9.3.2)', async () => {
    await start();
    const p = peer();
    p.send(
      encodeAssociateRq({
        calledAeTitle: 'LUMBAR',
        callingAeTitle: 'X',
        presentationContexts: [{ id: 1, abstractSyntax: VERIFICATION, transferSyntaxes: [IMPLICIT] }],
        maxPduLength: 0,
        implementationClassUid: '1.2',
        protocolVersion: 2,
      }),
    );
    const r = await p.next();
    expect([r?.type, ...r!.body.subarray(1, 4)]).toEqual([PDU.associateRj, 1, 2, 2]);
  });

  it('fragments its responses to the peer maximum length', async () => {
    await start();
    const p = peer();
    await p.associate(undefined, 32);
    p.send(...encodePData(1, true, echoRq(1), 32));
    const { command, pdus } = await p.response();
    expect(command.us(TAG.status)).toBe(0);
    expect(pdus).toBeGreaterThanOrEqual(3); // 26 bytes of command a PDU
  });

  it('answers a C-STORE without a data set 0xC000 "no data set", and another DIMSE request 0x0211', async () => {
    await start();
    const p = peer();
    await p.associate([{ id: 1, abstractSyntax: MR, transferSyntaxes: [IMPLICIT] }]);
    p.send(...encodePData(1, true, storeRq(1, false), 0));
    const store = (await p.response()).command;
    expect(store.commandField).toBe(COMMAND.cStoreRsp);
    expect(store.us(TAG.status)).toBe(0xc000);
    expect(store.str(TAG.errorComment)).toBe('no data set');
    expect(store.str(TAG.affectedSopInstanceUid)).toBe('1.2.3.4.5');
    const find = encodeCommand([
      [TAG.affectedSopClassUid, 'UI', MR],
      [TAG.commandField, 'US', 0x0020],
      [TAG.messageId, 'US', 2],
      [TAG.commandDataSetType, 'US', 0x0000],
    ]);
    // its data set is read and dropped, then it is answered
    p.send(...encodePData(1, true, find, 0), ...encodePData(1, false, Buffer.alloc(10), 0));
    const rsp = (await p.response()).command;
    expect([rsp.commandField, rsp.us(TAG.status), rsp.us(TAG.messageIdBeingRespondedTo)]).toEqual([
      0x8020, 0x0211, 2,
    ]);
    // C-CANCEL has no response: abort
    const cancel = encodeCommand([
      [TAG.commandField, 'US', COMMAND.cCancelRq],
      [TAG.messageIdBeingRespondedTo, 'US', 2],
      [TAG.commandDataSetType, 'US', 0x0101],
    ]);
    p.send(...encodePData(1, true, cancel, 0));
    expect((await p.next())?.type).toBe(PDU.abort);
  });

  it('discards the partial file when the peer aborts mid data set', async () => {
    await start();
    const p = peer();
    await p.associate([{ id: 1, abstractSyntax: MR, transferSyntaxes: [IMPLICIT] }]);
    p.send(
      ...encodePData(1, true, storeRq(1), 0),
      ...encodePData(1, false, Buffer.alloc(100, 1), 0).map((b) => {
        b[11] = 0; // not the last fragment
        return b;
      }),
    );
    const files = () => {
      try {
        return readdirSync(join(dir, 'incoming'));
      } catch {
        return [];
      }
    };
    for (let i = 0; i < 200 && files().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(files()).toHaveLength(1);
    p.send(encodeAbort(0, 0));
    await p.closed;
    for (let i = 0; i < 200 && files().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(files()).toHaveLength(0);
    expect(lines.map((l) => l[1])).toContain('association aborted by the peer');
  });

  it('streams a large data set into its file with back-pressure, then answers what storeInstance says', async () => {
    await start();
    const p = peer();
    const ac = await p.associate([{ id: 1, abstractSyntax: MR, transferSyntaxes: [IMPLICIT] }], 0);
    expect(ac?.type).toBe(PDU.associateAc);
    // 20 MiB that are not a data set: written to disk past 8 MiB (the file's buffer fills), then refused
    p.send(
      ...encodePData(1, true, storeRq(3), 0),
      ...encodePData(1, false, Buffer.alloc(20 << 20, 0x41), 262144),
    );
    const rsp = (await p.response()).command;
    expect([rsp.commandField, rsp.us(TAG.status), rsp.us(TAG.messageIdBeingRespondedTo)]).toEqual([
      COMMAND.cStoreRsp,
      0xc000,
      3,
    ]);
    expect(rsp.str(TAG.errorComment)).toBeTruthy();
    expect(readdirSync(join(dir, 'incoming'))).toEqual([]);
    // the socket reads again once the file has taken the data set (no 'drain' comes after end())
    p.send(...encodePData(1, true, echoRq(4), 0));
    expect((await p.response()).command.us(TAG.messageIdBeingRespondedTo)).toBe(4);
    p.send(encodeRelease(PDU.releaseRq));
    expect((await p.next())?.type).toBe(PDU.releaseRp);
  });

  it('aborts (source 2) on a malformed or unexpected PDU', async () => {
    await start();
    const cases: [Buffer[], number][] = [
      [[pdu(0x09, Buffer.alloc(4))], 1], // unknown PDU type
      [[encodeRelease(PDU.releaseRq)], 2], // before A-ASSOCIATE-RQ
      [[Buffer.from('0100ffffffff', 'hex')], 6], // 4 GiB announced
      [[pdu(PDU.associateRq, Buffer.alloc(20))], 6], // cut short
    ];
    for (const [bytes, reason] of cases) {
      const p = peer();
      p.send(...bytes);
      const r = await p.next();
      expect([r?.type, r?.body[2], r?.body[3]]).toEqual([PDU.abort, 2, reason]);
      await p.closed;
    }
    // on an open association: a data set fragment without a command, a PDV on a context not accepted
    for (const bytes of [encodePData(1, false, Buffer.alloc(4), 0), encodePData(9, true, echoRq(1), 0)]) {
      const p = peer();
      await p.associate();
      p.send(...bytes);
      expect((await p.next())?.type).toBe(PDU.abort);
      await p.closed;
    }
  });

  it('closes a connection that sends no A-ASSOCIATE-RQ (ARTIM) and an idle association', async () => {
    await start({}, { artimMs: 100, idleMs: 200 });
    const silent = peer();
    await silent.closed;
    const idle = peer();
    expect((await idle.associate())?.type).toBe(PDU.associateAc);
    expect((await idle.next())?.type).toBe(PDU.abort);
    await idle.closed;
    expect(lines.map((l) => l[1])).toEqual(
      expect.arrayContaining(['no A-ASSOCIATE-RQ in time (ARTIM): closed', 'idle association: aborted']),
    );
  });
});
