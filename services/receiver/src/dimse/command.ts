/**
 * DIMSE command sets (PS3.7 section 9.3 and annex E): group 0000 elements in implicit VR little endian,
 * (0000,0000) Command Group Length first. Only what a C-STORE/C-ECHO SCP reads and answers.
 */

export const TAG = {
  groupLength: 0x0000,
  affectedSopClassUid: 0x0002,
  requestedSopClassUid: 0x0003,
  commandField: 0x0100,
  messageId: 0x0110,
  messageIdBeingRespondedTo: 0x0120,
  priority: 0x0700,
  commandDataSetType: 0x0800,
  status: 0x0900,
  errorComment: 0x0902,
  affectedSopInstanceUid: 0x1000,
} as const;

/** Command Field values (PS3.7 E.1). */
export const COMMAND = {
  cStoreRq: 0x0001,
  cStoreRsp: 0x8001,
  cEchoRq: 0x0030,
  cEchoRsp: 0x8030,
  cCancelRq: 0x0fff,
} as const;

/** Requests that have a response (the response's Command Field is the request's | 0x8000): PS3.7 E.1. */
const ANSWERABLE = new Set([
  0x0001, 0x0010, 0x0020, 0x0021, 0x0030, 0x0100, 0x0110, 0x0120, 0x0130, 0x0140, 0x0150,
]);

export function hasResponse(commandField: number): boolean {
  return ANSWERABLE.has(commandField);
}

/** (0000,0800): no data set follows. */
export const NO_DATA_SET = 0x0101;

/** Status 0211H: unrecognized operation (PS3.7 C.4). */
export const UNRECOGNIZED_OPERATION = 0x0211;

/** VRs of the group 0000 elements we write (the value kinds; implicit VR carries no VR on the wire). */
type Kind = 'UL' | 'US' | 'UI' | 'LO' | 'AE';

/** A decoded command set: element number (group 0000) -> value bytes. */
export class Command {
  constructor(readonly elements: Map<number, Buffer>) {}

  us(element: number): number | undefined {
    const v = this.elements.get(element);
    return v && v.length >= 2 ? v.readUInt16LE(0) : undefined;
  }

  /** A UI/AE/LO value: latin1, trailing NULs and spaces removed. */
  str(element: number): string | undefined {
    const v = this.elements.get(element);
    if (!v) return undefined;
    let e = v.length;
    while (e > 0 && (v[e - 1] === 0 || v[e - 1] === 0x20)) e--;
    return v.toString('latin1', 0, e);
  }

  get commandField(): number | undefined {
    return this.us(TAG.commandField);
  }

  get messageId(): number | undefined {
    return this.us(TAG.messageId);
  }

  /** Whether a data set follows the command ((0000,0800) other than 0101H). */
  get hasDataSet(): boolean {
    const t = this.us(TAG.commandDataSetType);
    return t !== undefined && t !== NO_DATA_SET;
  }
}

/** Decodes a command set (implicit VR little endian); a malformed one throws. */
export function decodeCommand(buf: Buffer): Command {
  const elements = new Map<number, Buffer>();
  let at = 0;
  while (at < buf.length) {
    if (at + 8 > buf.length) throw new Error('command element header cut short');
    const group = buf.readUInt16LE(at);
    const element = buf.readUInt16LE(at + 2);
    const len = buf.readUInt32LE(at + 4);
    if (group !== 0x0000)
      throw new Error(`command set element (${group.toString(16)},${element.toString(16)})`);
    if (len === 0xffffffff || at + 8 + len > buf.length) throw new Error('command element runs past the set');
    elements.set(element, buf.subarray(at + 8, at + 8 + len));
    at += 8 + len;
  }
  const command = new Command(elements);
  if (command.commandField === undefined) throw new Error('command set without (0000,0100) Command Field');
  return command;
}

function value(kind: Kind, v: number | string): Buffer {
  if (kind === 'US') {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v as number);
    return b;
  }
  if (kind === 'UL') {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v as number);
    return b;
  }
  const s = Buffer.from(String(v), 'latin1');
  if (s.length % 2 === 0) return s;
  return Buffer.concat([s, Buffer.from([kind === 'UI' ? 0 : 0x20])]);
}

/** Encodes a command set from (element, VR, value) triples: sorted by element, group length first. */
export function encodeCommand(entries: [number, Kind, number | string][]): Buffer {
  const parts: Buffer[] = [];
  for (const [element, kind, v] of [...entries].sort((a, b) => a[0] - b[0])) {
    if (element === TAG.groupLength) continue;
    const val = value(kind, v);
    const head = Buffer.alloc(8);
    head.writeUInt16LE(0x0000, 0);
    head.writeUInt16LE(element, 2);
    head.writeUInt32LE(val.length, 4);
    parts.push(head, val);
  }
  const body = Buffer.concat(parts);
  const gl = Buffer.alloc(12);
  gl.writeUInt32LE(4, 4);
  gl.writeUInt32LE(body.length, 8);
  return Buffer.concat([gl, body]);
}

/** A response to `rq` (C-STORE-RSP, C-ECHO-RSP or any other response form): PS3.7 9.3.1.2, 9.3.5.2. */
export function encodeResponse(
  rq: Command,
  status: number,
  opts: { comment?: string; sopInstance?: boolean } = {},
): Buffer {
  const field = (rq.commandField ?? 0) | 0x8000;
  const entries: [number, Kind, number | string][] = [
    [TAG.commandField, 'US', field],
    [TAG.messageIdBeingRespondedTo, 'US', rq.messageId ?? 0],
    [TAG.commandDataSetType, 'US', NO_DATA_SET],
    [TAG.status, 'US', status],
  ];
  const sopClass = rq.str(TAG.affectedSopClassUid) ?? rq.str(TAG.requestedSopClassUid);
  if (sopClass !== undefined) entries.push([TAG.affectedSopClassUid, 'UI', sopClass]);
  const sopInstance = rq.str(TAG.affectedSopInstanceUid);
  if (opts.sopInstance !== false && sopInstance !== undefined)
    entries.push([TAG.affectedSopInstanceUid, 'UI', sopInstance]);
  if (opts.comment !== undefined) entries.push([TAG.errorComment, 'LO', opts.comment.slice(0, 64)]);
  return encodeCommand(entries);
}
