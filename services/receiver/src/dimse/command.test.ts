import { COMMAND, decodeCommand, encodeCommand, encodeResponse, hasResponse, TAG } from './command';
import { decodePData } from './pdu';

// P-DATA-TF bodies captured from DCMTK 3.6.7: echoscu's C-ECHO-RQ, storescu's C-STORE-RQ, and what
// storescp answered to each (the PDV header is 6 bytes: length, context id, message control header).
const ECHO_RQ =
  '0000004601030000000004000000380000000000020012000000312e322e3834302e31303030382e312e3100000000010200000030000000100102000000010000000008020000000101';
const ECHO_RSP =
  '0000005001030000000004000000420000000000020012000000312e322e3834302e31303030382e312e310000000001020000003080000020010200000001000000000802000000010100000009020000000000';
const STORE_RQ =
  '0000008c710300000000040000007e000000000002001a000000312e322e3834302e31303030382e352e312e342e312e312e340000000001020000000100000010010200000001000000000702000000000000000008020000000100000000102c000000322e32352e313034373234373735343035393237363934353636323330363138323331383932333835353938';
const STORE_RSP =
  '0000008c710300000000040000007e000000000002001a000000312e322e3834302e31303030382e352e312e342e312e312e340000000001020000000180000020010200000001000000000802000000010100000009020000000000000000102c000000322e32352e313034373234373735343035393237363934353636323330363138323331383932333835353938';

const pdv = (hex: string) => decodePData(Buffer.from(hex, 'hex'))[0];

describe('DIMSE command sets (implicit VR little endian)', () => {
  it("decodes storescu's C-STORE-RQ", () => {
    const p = pdv(STORE_RQ);
    expect(p).toMatchObject({ contextId: 0x71, command: true, last: true });
    const c = decodeCommand(p.data);
    expect(c.commandField).toBe(COMMAND.cStoreRq);
    expect(c.messageId).toBe(1);
    expect(c.hasDataSet).toBe(true);
    expect(c.str(TAG.affectedSopClassUid)).toBe('1.2.840.10008.5.1.4.1.1.4');
    expect(c.str(TAG.affectedSopInstanceUid)).toBe('2.25.104724775405927694566230618231892385598');
    expect(c.us(TAG.priority)).toBe(0);
  });

  it("answers C-STORE with the bytes DCMTK's storescp sends", () => {
    const rsp = encodeResponse(decodeCommand(pdv(STORE_RQ).data), 0x0000);
    expect(rsp.toString('hex')).toBe(pdv(STORE_RSP).data.toString('hex'));
  });

  it("decodes echoscu's C-ECHO-RQ and answers as storescp does", () => {
    const c = decodeCommand(pdv(ECHO_RQ).data);
    expect(c.commandField).toBe(COMMAND.cEchoRq);
    expect(c.hasDataSet).toBe(false);
    expect(encodeResponse(c, 0).toString('hex')).toBe(pdv(ECHO_RSP).data.toString('hex'));
  });

  it('adds an Error Comment (0000,0902), padded to even length and cut to 64 characters', () => {
    const rq = decodeCommand(pdv(STORE_RQ).data);
    const rsp = decodeCommand(encodeResponse(rq, 0xc000, { comment: 'no data set' }));
    expect(rsp.us(TAG.status)).toBe(0xc000);
    expect(rsp.us(TAG.commandField)).toBe(COMMAND.cStoreRsp);
    expect(rsp.us(TAG.messageIdBeingRespondedTo)).toBe(1);
    expect(rsp.us(TAG.commandDataSetType)).toBe(0x0101);
    expect(rsp.elements.get(TAG.errorComment)!.toString('latin1')).toBe('no data set ');
    expect(rsp.str(TAG.errorComment)).toBe('no data set');
    // the group length is what follows it
    const bytes = encodeResponse(rq, 0xa700, { comment: 'x'.repeat(100) });
    expect(bytes.readUInt32LE(8)).toBe(bytes.length - 12);
    expect(decodeCommand(bytes).str(TAG.errorComment)).toHaveLength(64);
  });

  it('sorts elements and pads UIDs with NUL', () => {
    const b = encodeCommand([
      [TAG.status, 'US', 0],
      [TAG.affectedSopClassUid, 'UI', '1.2.3'],
    ]);
    expect(b.toString('hex')).toBe(
      '0000000004000000' + '18000000' + '0000020006000000' + '312e322e3300' + '0000000902000000' + '0000',
    );
  });

  it('refuses malformed command sets', () => {
    expect(() => decodeCommand(Buffer.from('00000001', 'hex'))).toThrow(/cut short/);
    const other = Buffer.from('0800160004000000' + '312e3200', 'hex');
    expect(() => decodeCommand(other)).toThrow(/command set element/);
    const long = Buffer.from('0000000210000000' + '312e3200', 'hex');
    expect(() => decodeCommand(long)).toThrow(/runs past/);
    expect(() => decodeCommand(encodeCommand([[TAG.status, 'US', 0]]))).toThrow(/Command Field/);
  });

  it('knows which requests have a response form', () => {
    expect(hasResponse(0x0001)).toBe(true);
    expect(hasResponse(0x0020)).toBe(true);
    expect(hasResponse(0x0130)).toBe(true);
    expect(hasResponse(0x0fff)).toBe(false);
    expect(hasResponse(0x8001)).toBe(false);
  });
});
