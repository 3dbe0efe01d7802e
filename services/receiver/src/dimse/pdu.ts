/**
 * DICOM Upper Layer PDUs (PS3.8 section 9.3): the association PDUs an SCP reads (A-ASSOCIATE-RQ, P-DATA-TF,
 * A-RELEASE-RQ/RP, A-ABORT) and writes (A-ASSOCIATE-AC/RJ, P-DATA-TF, A-RELEASE-RP, A-ABORT), without dcmjs.
 * Multi-byte fields of the PDUs are big endian (PS3.8 9.3.1).
 */

export const PDU = {
  associateRq: 0x01,
  associateAc: 0x02,
  associateRj: 0x03,
  pData: 0x04,
  releaseRq: 0x05,
  releaseRp: 0x06,
  abort: 0x07,
} as const;

/** Item types of the variable fields (PS3.8 9.3.2, 9.3.3, annex D). */
export const ITEM = {
  applicationContext: 0x10,
  presentationContextRq: 0x20,
  presentationContextAc: 0x21,
  abstractSyntax: 0x30,
  transferSyntax: 0x40,
  userInformation: 0x50,
  maxLength: 0x51,
  implementationClassUid: 0x52,
  asyncOperations: 0x53,
  roleSelection: 0x54,
  implementationVersionName: 0x55,
} as const;

/** The DICOM application context name (PS3.7 annex A.2.1). */
export const APPLICATION_CONTEXT = '1.2.840.10008.3.1.1.1';

/** A-ABORT source (PS3.8 table 9-26): 0 service user, 2 service provider. */
export const ABORT_SOURCE = { user: 0, provider: 2 } as const;
/** A-ABORT reasons when the source is the service provider (PS3.8 table 9-26). */
export const ABORT_REASON = {
  notSpecified: 0,
  unrecognizedPdu: 1,
  unexpectedPdu: 2,
  unrecognizedPduParameter: 4,
  unexpectedPduParameter: 5,
  invalidPduParameterValue: 6,
} as const;

/** Presentation context results in an A-ASSOCIATE-AC (PS3.8 table 9-18). */
export const PC_RESULT = {
  accept: 0,
  userRejection: 1,
  noReason: 2,
  abstractSyntaxNotSupported: 3,
  transferSyntaxesNotSupported: 4,
} as const;

/** A PDU the peer sent that does not follow PS3.8: answered with an A-ABORT of this reason. */
export class PduError extends Error {
  constructor(
    message: string,
    readonly reason: number = ABORT_REASON.invalidPduParameterValue,
  ) {
    super(message);
  }
}

export interface PresentationContextRq {
  id: number;
  abstractSyntax: string;
  transferSyntaxes: string[];
}

export interface AssociateRq {
  /** The protocol version bit field (bit 0: version 1). */
  protocolVersion: number;
  calledAeTitle: string;
  callingAeTitle: string;
  /** Bytes 11-74 of the PDU (called, calling, reserved): an A-ASSOCIATE-AC sends them back (PS3.8 9.3.3). */
  echo: Buffer;
  applicationContext: string;
  presentationContexts: PresentationContextRq[];
  /** The longest P-DATA-TF variable field the peer receives; 0 = no limit (PS3.8 D.1). */
  maxPduLength: number;
  implementationClassUid: string;
  implementationVersionName: string;
}

export interface PresentationContextAc {
  id: number;
  result: number;
  /** The accepted transfer syntax (not significant when rejected). */
  transferSyntax: string;
}

export interface AssociateAc {
  /** The 64 bytes of the A-ASSOCIATE-RQ's called/calling/reserved fields. */
  echo: Buffer;
  applicationContext: string;
  presentationContexts: PresentationContextAc[];
  maxPduLength: number;
  implementationClassUid: string;
  implementationVersionName: string;
}

/** One presentation data value of a P-DATA-TF (PS3.8 9.3.5.1, annex E.2). */
export interface Pdv {
  contextId: number;
  /** Message control header bit 0: a command fragment (else a data set fragment). */
  command: boolean;
  /** Message control header bit 1: the last fragment. */
  last: boolean;
  data: Buffer;
}

/** A UID or AE title field: latin1, trailing NULs and spaces removed (AE titles: leading spaces too). */
function str(buf: Buffer, start: number, end: number): string {
  let e = end;
  while (e > start && (buf[e - 1] === 0 || buf[e - 1] === 0x20)) e--;
  return buf.toString('latin1', start, e);
}

/** Walks the items of a variable field: [type, value start, value end] each; an item running past `end` throws. */
function* items(buf: Buffer, start: number, end: number): Generator<[number, number, number]> {
  let at = start;
  while (at < end) {
    if (at + 4 > end) throw new PduError('item header cut short', ABORT_REASON.invalidPduParameterValue);
    const type = buf[at];
    const len = buf.readUInt16BE(at + 2);
    const from = at + 4;
    if (from + len > end) throw new PduError(`item 0x${type.toString(16)} runs past its PDU`);
    yield [type, from, from + len];
    at = from + len;
  }
}

/** Decodes the body (after the 6-byte header) of an A-ASSOCIATE-RQ PDU (PS3.8 9.3.2). */
export function decodeAssociateRq(body: Buffer): AssociateRq {
  if (body.length < 68) throw new PduError('A-ASSOCIATE-RQ shorter than its fixed fields');
  const rq: AssociateRq = {
    protocolVersion: body.readUInt16BE(0),
    calledAeTitle: str(body, 4, 20).trimStart(),
    callingAeTitle: str(body, 20, 36).trimStart(),
    echo: Buffer.from(body.subarray(4, 68)),
    applicationContext: '',
    presentationContexts: [],
    maxPduLength: 0,
    implementationClassUid: '',
    implementationVersionName: '',
  };
  let sawContext = false;
  let sawUser = false;
  for (const [type, from, to] of items(body, 68, body.length)) {
    if (type === ITEM.applicationContext) {
      rq.applicationContext = str(body, from, to);
      sawContext = true;
    } else if (type === ITEM.presentationContextRq) {
      if (to - from < 4) throw new PduError('presentation context item shorter than 4 bytes');
      const pc: PresentationContextRq = { id: body[from], abstractSyntax: '', transferSyntaxes: [] };
      for (const [sub, f, t] of items(body, from + 4, to)) {
        if (sub === ITEM.abstractSyntax) pc.abstractSyntax = str(body, f, t);
        else if (sub === ITEM.transferSyntax) pc.transferSyntaxes.push(str(body, f, t));
        else
          throw new PduError(
            `unknown presentation context sub-item 0x${sub.toString(16)}`,
            ABORT_REASON.unrecognizedPduParameter,
          );
      }
      rq.presentationContexts.push(pc);
    } else if (type === ITEM.userInformation) {
      sawUser = true;
      for (const [sub, f, t] of items(body, from, to)) {
        if (sub === ITEM.maxLength) {
          if (t - f !== 4) throw new PduError('maximum length sub-item is not 4 bytes');
          rq.maxPduLength = body.readUInt32BE(f);
        } else if (sub === ITEM.implementationClassUid) rq.implementationClassUid = str(body, f, t);
        else if (sub === ITEM.implementationVersionName) rq.implementationVersionName = str(body, f, t);
        // asynchronous operations, role selection, extended negotiation, user identity...: tolerated, not used
      }
    } else {
      throw new PduError(
        `unknown A-ASSOCIATE-RQ item 0x${type.toString(16)}`,
        ABORT_REASON.unrecognizedPduParameter,
      );
    }
  }
  if (!sawContext) throw new PduError('A-ASSOCIATE-RQ without an application context');
  if (!sawUser) throw new PduError('A-ASSOCIATE-RQ without user information');
  if (rq.presentationContexts.length === 0)
    throw new PduError('A-ASSOCIATE-RQ without a presentation context');
  return rq;
}

/** A whole PDU: the 6-byte header (type, reserved, length) and `body`. */
export function pdu(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(6 + body.length);
  out[0] = type;
  out[1] = 0;
  out.writeUInt32BE(body.length, 2);
  body.copy(out, 6);
  return out;
}

function item(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = type;
  head.writeUInt16BE(value.length, 2);
  return Buffer.concat([head, value]);
}

const latin1 = (s: string) => Buffer.from(s, 'latin1');

/** An A-ASSOCIATE-AC PDU (PS3.8 9.3.3). */
export function encodeAssociateAc(ac: AssociateAc): Buffer {
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(1, 0);
  ac.echo.copy(fixed, 4, 0, 64);
  const parts = [fixed, item(ITEM.applicationContext, latin1(ac.applicationContext))];
  for (const pc of ac.presentationContexts) {
    const head = Buffer.from([pc.id, 0, pc.result, 0]);
    parts.push(
      item(
        ITEM.presentationContextAc,
        Buffer.concat([head, item(ITEM.transferSyntax, latin1(pc.transferSyntax))]),
      ),
    );
  }
  parts.push(userInformation(ac.maxPduLength, ac.implementationClassUid, ac.implementationVersionName));
  return pdu(PDU.associateAc, Buffer.concat(parts));
}

/** The User Information item (PS3.8 9.3.2.3 / 9.3.3.3): maximum length, implementation class UID and version name. */
function userInformation(maxPduLength: number, classUid: string, versionName?: string): Buffer {
  const max = Buffer.alloc(4);
  max.writeUInt32BE(maxPduLength);
  return item(
    ITEM.userInformation,
    Buffer.concat([
      item(ITEM.maxLength, max),
      item(ITEM.implementationClassUid, latin1(classUid)),
      ...(versionName === undefined ? [] : [item(ITEM.implementationVersionName, latin1(versionName))]),
    ]),
  );
}

/** An A-ASSOCIATE-RQ PDU (PS3.8 9.3.2): the requestor's side, for tests and tools. */
export function encodeAssociateRq(rq: {
  calledAeTitle: string;
  callingAeTitle: string;
  presentationContexts: PresentationContextRq[];
  maxPduLength: number;
  implementationClassUid: string;
  protocolVersion?: number;
}): Buffer {
  const fixed = Buffer.alloc(68, 0);
  fixed.writeUInt16BE(rq.protocolVersion ?? 1, 0);
  fixed.write(rq.calledAeTitle.padEnd(16), 4, 16, 'latin1');
  fixed.write(rq.callingAeTitle.padEnd(16), 20, 16, 'latin1');
  const parts = [fixed, item(ITEM.applicationContext, latin1(APPLICATION_CONTEXT))];
  for (const pc of rq.presentationContexts) {
    const subs = [item(ITEM.abstractSyntax, latin1(pc.abstractSyntax))];
    for (const ts of pc.transferSyntaxes) subs.push(item(ITEM.transferSyntax, latin1(ts)));
    parts.push(item(ITEM.presentationContextRq, Buffer.concat([Buffer.from([pc.id, 0, 0, 0]), ...subs])));
  }
  parts.push(userInformation(rq.maxPduLength, rq.implementationClassUid));
  return pdu(PDU.associateRq, Buffer.concat(parts));
}

/** An A-ASSOCIATE-RJ PDU (PS3.8 9.3.4). */
export function encodeAssociateRj(result: number, source: number, reason: number): Buffer {
  return pdu(PDU.associateRj, Buffer.from([0, result, source, reason]));
}

/** An A-RELEASE-RQ (5) or A-RELEASE-RP (6) PDU. */
export function encodeRelease(type: 5 | 6): Buffer {
  return pdu(type, Buffer.alloc(4));
}

/** An A-ABORT PDU (PS3.8 9.3.8). */
export function encodeAbort(source: number, reason: number): Buffer {
  return pdu(PDU.abort, Buffer.from([0, 0, source, reason]));
}

/**
 * A message (command or data set) as P-DATA-TF PDUs of one PDV each, none longer than the peer's maximum
 * length (`maxPduLength`, the variable field; 0 = no limit): PS3.8 9.3.5 and annex D.1.
 */
export function encodePData(
  contextId: number,
  command: boolean,
  payload: Buffer,
  maxPduLength: number,
): Buffer[] {
  const room = maxPduLength > 0 ? Math.max(1, maxPduLength - 6) : Math.max(1, payload.length);
  const out: Buffer[] = [];
  for (let at = 0; at < payload.length || out.length === 0; at += room) {
    const data = payload.subarray(at, at + room);
    const last = at + room >= payload.length;
    const buf = Buffer.allocUnsafe(12 + data.length);
    buf[0] = PDU.pData;
    buf[1] = 0;
    buf.writeUInt32BE(6 + data.length, 2);
    buf.writeUInt32BE(2 + data.length, 6);
    buf[10] = contextId;
    buf[11] = (command ? 1 : 0) | (last ? 2 : 0);
    data.copy(buf, 12);
    out.push(buf);
  }
  return out;
}

/** The PDVs of a P-DATA-TF body (views into `body`, no copy). */
export function decodePData(body: Buffer): Pdv[] {
  return decodePDataParts([body]).map((v) => ({
    ...v,
    data: v.data.length === 1 ? v.data[0] : Buffer.concat(v.data),
  }));
}

/** A PDV whose value is given as slices of the chunks the PDU arrived in. */
export type PdvParts = Omit<Pdv, 'data'> & { data: Buffer[] };

/**
 * The PDVs of a P-DATA-TF body given as consecutive slices (the socket's chunks it spans): each PDV's value
 * is a list of slices of them, never copied (a 6-byte PDV header that straddles two chunks is).
 */
export function decodePDataParts(body: Buffer[]): PdvParts[] {
  const out: PdvParts[] = [];
  let part = 0;
  let off = 0;
  let remaining = body.reduce((n, b) => n + b.length, 0);
  /** The next n bytes as slices, advancing. */
  const slices = (n: number): Buffer[] => {
    const got: Buffer[] = [];
    while (n > 0) {
      const b = body[part];
      const take = Math.min(n, b.length - off);
      if (take > 0) got.push(b.subarray(off, off + take));
      off += take;
      n -= take;
      if (off === b.length) {
        part++;
        off = 0;
      }
    }
    return got;
  };
  if (remaining === 0) throw new PduError('P-DATA-TF without a PDV');
  while (remaining > 0) {
    if (remaining < 6) throw new PduError('PDV header cut short');
    const h6 = slices(6);
    const h = h6.length === 1 ? h6[0] : Buffer.concat(h6);
    const len = h.readUInt32BE(0);
    if (len < 2 || len - 2 > remaining - 6) throw new PduError(`PDV length ${len} does not fit its PDU`);
    const mch = h[5];
    out.push({ contextId: h[4], command: (mch & 1) === 1, last: (mch & 2) === 2, data: slices(len - 2) });
    remaining -= 4 + len;
  }
  return out;
}

/**
 * Cuts a byte stream into PDUs: push() the socket's chunks, next() gives each whole PDU (its type and body) as
 * soon as it is there. A PDU longer than `maxLength`, or of an unknown type, throws a PduError.
 */
export class PduReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(private readonly maxLength: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** Bytes received that are not yet part of a whole PDU. */
  get pending(): number {
    return this.buffered;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0];
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first.length < n) this.peek(n);
    const head = this.chunks[0];
    const out = head.subarray(0, n);
    if (head.length === n) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    this.buffered -= n;
    return out;
  }

  /** The bytes of the next n, as slices of the chunks (no copy), taken out. */
  private takeParts(n: number): Buffer[] {
    const out: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const head = this.chunks[0];
      if (head.length <= need) {
        out.push(head);
        this.chunks.shift();
        need -= head.length;
      } else {
        out.push(head.subarray(0, need));
        this.chunks[0] = head.subarray(need);
        need = 0;
      }
    }
    this.buffered -= n;
    return out;
  }

  /**
   * As next(), but a P-DATA-TF's body comes as the slices of the chunks it spans, not copied into one buffer
   * (the receiver writes a data set's fragments to its file as they are); other PDUs as one buffer.
   */
  nextParts(): { type: number; parts: Buffer[] } | null {
    const length = this.whole();
    if (length === null) return null;
    const type = this.chunks[0][0];
    if (type !== PDU.pData) return { type, parts: [this.take(6 + length).subarray(6)] };
    const parts = this.takeParts(6 + length);
    // the 6-byte PDU header goes
    let skip = 6;
    while (skip > 0) {
      if (parts[0].length <= skip) skip -= parts.shift()!.length;
      else {
        parts[0] = parts[0].subarray(skip);
        skip = 0;
      }
    }
    return { type, parts };
  }

  /** The length of the next PDU's body once the whole PDU is there, else null; checks its type and length. */
  private whole(): number | null {
    if (this.buffered < 6) return null;
    const head = this.peek(6);
    const type = head[0];
    const length = head.readUInt32BE(2);
    if (type < PDU.associateRq || type > PDU.abort)
      throw new PduError(`unknown PDU type 0x${type.toString(16)}`, ABORT_REASON.unrecognizedPdu);
    if (length > this.maxLength)
      throw new PduError(
        `PDU of ${length} bytes (at most ${this.maxLength})`,
        ABORT_REASON.invalidPduParameterValue,
      );
    return this.buffered < 6 + length ? null : length;
  }

  next(): { type: number; body: Buffer } | null {
    const length = this.whole();
    if (length === null) return null;
    const type = this.chunks[0][0];
    return { type, body: this.take(6 + length).subarray(6) };
  }
}
