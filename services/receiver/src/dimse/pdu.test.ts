import {
  ABORT_REASON,
  decodeAssociateRq,
  decodePData,
  decodePDataParts,
  encodeAbort,
  encodeAssociateAc,
  encodeAssociateRj,
  encodePData,
  encodeRelease,
  pdu,
  PDU,
  PduError,
  PduReader,
} from './pdu';

// The A-ASSOCIATE-RQ body echoscu (DCMTK 3.6.7) sends: one presentation context (Verification, implicit VR LE),
// maximum length 16384, DCMTK's implementation class UID and version name.
const ECHOSCU_RQ =
  '000100004c554d424152202020202020202020204543484f534355202020202020202020000000000000000000000000000000000000000000000000000000000000000010000015312e322e3834302e31303030382e332e312e312e312000002e0100ff0030000011312e322e3834302e31303030382e312e3140000011312e322e3834302e31303030382e312e325000003a51000004000040005200001b312e322e3237362e302e373233303031302e332e302e332e362e375500000f4f464649535f44434d544b5f333637';

function item(type: number, value: Buffer): Buffer {
  const head = Buffer.from([type, 0, 0, 0]);
  head.writeUInt16BE(value.length, 2);
  return Buffer.concat([head, value]);
}
const s = (v: string) => Buffer.from(v, 'latin1');

/** An A-ASSOCIATE-RQ body with `extra` items in its user information and `top` items after it. */
function rqBody(
  opts: { version?: number; extra?: Buffer[]; top?: Buffer[]; contexts?: Buffer[] } = {},
): Buffer {
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(opts.version ?? 1, 0);
  fixed.write('LUMBAR'.padEnd(16), 4, 'latin1');
  fixed.write('SCU'.padEnd(16), 20, 'latin1');
  const contexts = opts.contexts ?? [
    item(
      0x20,
      Buffer.concat([
        Buffer.from([1, 0, 0, 0]),
        item(0x30, s('1.2.840.10008.5.1.4.1.1.4')),
        item(0x40, s('1.2.840.10008.1.2.1\0')),
        item(0x40, s('1.2.840.10008.1.2')),
      ]),
    ),
  ];
  const max = Buffer.alloc(4);
  max.writeUInt32BE(32768);
  const user = item(0x50, Buffer.concat([item(0x51, max), item(0x52, s('1.2.3.4')), ...(opts.extra ?? [])]));
  return Buffer.concat([
    fixed,
    item(0x10, s('1.2.840.10008.3.1.1.1')),
    ...contexts,
    user,
    ...(opts.top ?? []),
  ]);
}

describe('PS3.8 PDUs', () => {
  it("decodes echoscu's A-ASSOCIATE-RQ", () => {
    const rq = decodeAssociateRq(Buffer.from(ECHOSCU_RQ, 'hex'));
    expect(rq).toMatchObject({
      protocolVersion: 1,
      calledAeTitle: 'LUMBAR',
      callingAeTitle: 'ECHOSCU',
      applicationContext: '1.2.840.10008.3.1.1.1',
      maxPduLength: 16384,
      implementationClassUid: '1.2.276.0.7230010.3.0.3.6.7',
      implementationVersionName: 'OFFIS_DCMTK_367',
      presentationContexts: [
        { id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] },
      ],
    });
    expect(rq.echo).toHaveLength(64);
  });

  it('tolerates async operations, role selection, extended negotiation and user identity', () => {
    const rq = decodeAssociateRq(
      rqBody({
        extra: [
          item(0x53, Buffer.from([0, 1, 0, 1])),
          item(0x54, Buffer.concat([Buffer.from([0, 5]), s('1.2.3'), Buffer.from([1, 0])])),
          item(0x55, s('SOME_SCU')),
          item(0x56, Buffer.concat([Buffer.from([0, 5]), s('1.2.3'), Buffer.from([1])])),
          item(0x58, Buffer.concat([Buffer.from([1, 0, 0, 4]), s('user'), Buffer.from([0, 0])])),
        ],
      }),
    );
    expect(rq.maxPduLength).toBe(32768);
    expect(rq.implementationVersionName).toBe('SOME_SCU');
    expect(rq.presentationContexts[0].transferSyntaxes).toEqual(['1.2.840.10008.1.2.1', '1.2.840.10008.1.2']);
  });

  it('round-trips an A-ASSOCIATE-AC: called/calling echoed, results, our maximum length and implementation', () => {
    const rq = decodeAssociateRq(rqBody());
    const ac = encodeAssociateAc({
      echo: rq.echo,
      applicationContext: rq.applicationContext,
      presentationContexts: [
        { id: 1, result: 0, transferSyntax: '1.2.840.10008.1.2.1' },
        { id: 3, result: 3, transferSyntax: '1.2.840.10008.1.2' },
      ],
      maxPduLength: 262144,
      implementationClassUid: '2.25.1',
      implementationVersionName: 'LUMBAR_050',
    });
    expect(ac[0]).toBe(PDU.associateAc);
    expect(ac.readUInt32BE(2)).toBe(ac.length - 6);
    // the AC has the RQ's layout: read it back with the RQ decoder after renaming the item types
    const body = Buffer.from(ac.subarray(6));
    for (let at = 68; at < body.length; at += 4 + body.readUInt16BE(at + 2))
      if (body[at] === 0x21) body[at] = 0x20;
    const back = decodeAssociateRq(body);
    expect(back.calledAeTitle).toBe('LUMBAR');
    expect(back.callingAeTitle).toBe('SCU');
    expect(back.maxPduLength).toBe(262144);
    expect(back.implementationClassUid).toBe('2.25.1');
    expect(back.implementationVersionName).toBe('LUMBAR_050');
    expect(back.presentationContexts.map((p) => [p.id, p.transferSyntaxes[0]])).toEqual([
      [1, '1.2.840.10008.1.2.1'],
      [3, '1.2.840.10008.1.2'],
    ]);
    expect(body[68 + 4 + 21 + 6]).toBe(0); // first context's result: acceptance
  });

  it('encodes A-ASSOCIATE-RJ, A-RELEASE-RP and A-ABORT', () => {
    expect(encodeAssociateRj(1, 1, 7).toString('hex')).toBe('030000000004' + '00010107');
    expect(encodeRelease(6).toString('hex')).toBe('060000000004' + '00000000');
    expect(encodeAbort(2, 6).toString('hex')).toBe('070000000004' + '00000206');
  });

  it('refuses an unknown A-ASSOCIATE-RQ item, and items or fields cut short', () => {
    const unknown = () => decodeAssociateRq(rqBody({ top: [item(0x33, s('x'))] }));
    expect(unknown).toThrow(PduError);
    expect(unknown).toThrow(expect.objectContaining({ reason: ABORT_REASON.unrecognizedPduParameter }));
    const body = rqBody();
    expect(() => decodeAssociateRq(body.subarray(0, 60))).toThrow(/fixed fields/);
    expect(() => decodeAssociateRq(body.subarray(0, body.length - 3))).toThrow(/runs past|cut short/);
    expect(() => decodeAssociateRq(rqBody({ contexts: [] }))).toThrow(/presentation context/);
    const badSub = item(0x20, Buffer.concat([Buffer.from([1, 0, 0, 0]), item(0x31, s('x'))]));
    expect(() => decodeAssociateRq(rqBody({ contexts: [badSub] }))).toThrow(/sub-item/);
  });

  it('keeps the protocol version for the caller to reject', () => {
    expect(decodeAssociateRq(rqBody({ version: 2 })).protocolVersion).toBe(2);
  });

  it('fragments a message to the peer maximum length, and reads the PDVs back', () => {
    const payload = Buffer.alloc(1000, 7);
    const pdus = encodePData(5, false, payload, 256);
    expect(pdus).toHaveLength(4); // 250 data bytes per PDU: maximum length minus the PDV header (6)
    for (const p of pdus) {
      expect(p[0]).toBe(PDU.pData);
      expect(p.readUInt32BE(2)).toBeLessThanOrEqual(256);
    }
    const pdvs = pdus.flatMap((p) => decodePData(p.subarray(6)));
    expect(pdvs.map((p) => p.last)).toEqual([false, false, false, true]);
    expect(pdvs.every((p) => p.contextId === 5 && !p.command)).toBe(true);
    expect(Buffer.concat(pdvs.map((p) => p.data))).toEqual(payload);
    // no limit (0): one PDU; an empty message: one empty last fragment
    expect(encodePData(1, true, payload, 0)).toHaveLength(1);
    const empty = encodePData(1, true, Buffer.alloc(0), 0);
    expect(decodePData(empty[0].subarray(6))).toEqual([
      { contextId: 1, command: true, last: true, data: Buffer.alloc(0) },
    ]);
  });

  it('refuses P-DATA-TF whose PDVs do not fit', () => {
    expect(() => decodePData(Buffer.alloc(0))).toThrow(PduError);
    expect(() => decodePData(Buffer.from('00000010010300', 'hex'))).toThrow(/does not fit/);
    expect(() => decodePData(Buffer.from('0000', 'hex'))).toThrow(/cut short/);
  });

  it('cuts a byte stream into PDUs whatever the chunks', () => {
    const stream = Buffer.concat([
      pdu(PDU.associateRq, Buffer.from(ECHOSCU_RQ, 'hex')),
      ...encodePData(1, true, Buffer.alloc(300, 1), 128),
      encodeRelease(5),
    ]);
    for (const step of [1, 5, 7, 64, stream.length]) {
      const r = new PduReader(1 << 20);
      const types: number[] = [];
      for (let at = 0; at < stream.length; at += step) {
        r.push(stream.subarray(at, at + step));
        for (let p = r.next(); p; p = r.next()) types.push(p.type);
      }
      expect(types).toEqual([1, 4, 4, 4, 5]);
      expect(r.pending).toBe(0);
    }
  });

  it('gives P-DATA-TF bodies as slices of the chunks, never copied, with the same PDVs', () => {
    // two PDVs per PDU (a command and a data fragment), chunks of any size, PDV headers straddling chunks
    const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    const body = Buffer.concat([
      Buffer.from('00000004' + '0103' + 'abcd', 'hex'), // a command fragment, 2 bytes
      Buffer.from('00000fa2' + '0302', 'hex'), // 4000 data bytes, last
      data.subarray(0, 4000),
    ]);
    const stream = Buffer.concat([
      pdu(PDU.pData, body),
      encodeRelease(5),
      ...encodePData(3, false, data, 777),
    ]);
    for (const step of [1, 3, 7, 100, 1000, stream.length]) {
      const r = new PduReader(1 << 20);
      const got: { type: number; parts: Buffer[] }[] = [];
      for (let at = 0; at < stream.length; at += step) {
        r.push(stream.subarray(at, at + step));
        for (let p = r.nextParts(); p; p = r.nextParts()) got.push(p);
      }
      expect(got.map((p) => p.type)).toEqual([4, 5, ...encodePData(3, false, data, 777).map(() => 4)]);
      const first = decodePDataParts(got[0].parts);
      expect(first.map((v) => [v.contextId, v.command, v.last])).toEqual([
        [1, true, true],
        [3, false, true],
      ]);
      expect(Buffer.concat(first[0].data).toString('hex')).toBe('abcd');
      expect(Buffer.concat(first[1].data)).toEqual(data.subarray(0, 4000));
      // every slice is a view of a pushed chunk (no copy) once the chunks are big enough to hold a PDV header
      if (step >= 7) expect(first[1].data.every((d) => d.buffer === stream.buffer)).toBe(true);
      const rest = got.slice(2).flatMap((p) => decodePDataParts(p.parts));
      expect(Buffer.concat(rest.flatMap((v) => v.data))).toEqual(data);
      expect(rest.map((v) => v.last).filter(Boolean)).toHaveLength(1);
      expect(r.pending).toBe(0);
    }
    expect(() => decodePDataParts([Buffer.from('0000', 'hex'), Buffer.from('0010', 'hex')])).toThrow(
      /does not fit|cut short/,
    );
  });

  it('refuses an oversized PDU and an unknown PDU type from the header alone', () => {
    const r = new PduReader(1024);
    r.push(Buffer.from('040000100000', 'hex')); // 1 MiB announced
    expect(() => r.next()).toThrow(
      expect.objectContaining({ reason: ABORT_REASON.invalidPduParameterValue }),
    );
    const u = new PduReader(1024);
    u.push(Buffer.from('090000000004', 'hex'));
    expect(() => u.next()).toThrow(expect.objectContaining({ reason: ABORT_REASON.unrecognizedPdu }));
    const t = new PduReader(1024);
    t.push(Buffer.from('0400000000', 'hex')); // header cut short: waits
    expect(t.next()).toBeNull();
  });
});
