import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { part10Header } from '@lumbar/dicom';
import { InstanceFile, KEEP_IN_MEMORY_BYTES, metaHeader, storedIntact } from './instance-file';

describe('metaHeader', () => {
  it('writes the same bytes as part10Header (dcmjs)', () => {
    const cases = [
      {
        sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
        sopInstanceUid: '1.2.3.4',
        transferSyntaxUid: '1.2.840.10008.1.2.1',
      },
      {
        sopClassUid: '1.2.840.10008.5.1.4.1.1.4.1',
        sopInstanceUid: '1.2.3.45',
        transferSyntaxUid: '1.2.840.10008.1.2',
      },
      {
        sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
        sopInstanceUid: '2.25.1234567',
        transferSyntaxUid: '1.2.840.10008.1.2.4.90',
      },
    ];
    for (const c of cases)
      for (const sourceAeTitle of [undefined, 'STORESCU', 'ODD', 'A'])
        expect(metaHeader({ ...c, sourceAeTitle }).equals(part10Header({ ...c, sourceAeTitle }))).toBe(true);
  });
});

describe('InstanceFile', () => {
  const command = {
    sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
    sopInstanceUid: '1.2.3.4',
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    callingAeTitle: 'TEST',
  };
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lumbar-if-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function stream(chunks: Buffer[]) {
    const f = new InstanceFile(dir, command);
    for (const c of chunks) f.write(c);
    f.end();
    await f.persist();
    return f;
  }

  it('streams header and data to its file; bytes() gives the same bytes from memory', async () => {
    const data = [Buffer.alloc(1000, 1), Buffer.alloc(333, 2)];
    const f = await stream(data);
    const expected = Buffer.concat([part10Header({ ...command, sourceAeTitle: 'TEST' }), ...data]);
    expect(f.failure).toBeNull();
    expect(f.size).toBe(1333);
    expect(readFileSync(f.path).equals(expected)).toBe(true);
    expect((await f.bytes()).equals(expected)).toBe(true);
    await f.discard();
  });

  it('reads a large instance back from its file instead of holding it in memory', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const n = Math.ceil(KEEP_IN_MEMORY_BYTES / chunk.length) + 1;
    const f = await stream(Array.from({ length: n }, () => chunk));
    const bytes = await f.bytes();
    expect(bytes.length).toBe(readFileSync(f.path).length);
    expect(bytes.equals(readFileSync(f.path))).toBe(true);
    await f.discard();
  });

  it('gives the SHA-256 of the data set, kept in memory or streamed past the limit', async () => {
    const sha = (bufs: Buffer[]) => {
      const h = createHash('sha256');
      for (const b of bufs) h.update(b);
      return h.digest('hex');
    };
    const small = [Buffer.alloc(1000, 1), Buffer.alloc(333, 2)];
    const kept = await stream(small);
    expect(kept.sha256()).toBe(sha(small));
    await kept.discard();
    // past KEEP_IN_MEMORY_BYTES: the chunks kept so far are hashed when streaming starts, then the rest
    const chunks = Array.from({ length: Math.ceil(KEEP_IN_MEMORY_BYTES / (1 << 20)) + 2 }, (_, i) =>
      Buffer.alloc(1 << 20, i + 1),
    );
    const streamed = await stream(chunks);
    expect(streamed.sha256()).toBe(sha(chunks));
    const file = readFileSync(streamed.path);
    expect(sha([file.subarray(file.length - streamed.size)])).toBe(sha(chunks));
    await streamed.discard();
  });
});

describe('storedIntact', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lumbar-intact-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is true only for the whole file whose data set has the recorded SHA-256', async () => {
    const header = metaHeader({
      sopClassUid: '1.2.840.10008.5.1.4.1.1.4',
      sopInstanceUid: '1.2.3.4',
      transferSyntaxUid: '1.2.840.10008.1.2.1',
      sourceAeTitle: 'TEST',
    });
    const dataSet = Buffer.alloc(50_000, 3);
    const sha = createHash('sha256').update(dataSet).digest('hex');
    const path = join(dir, 'a.dcm');
    writeFileSync(path, Buffer.concat([header, dataSet]));
    expect(await storedIntact(path, sha)).toBe(true);
    writeFileSync(path, Buffer.concat([header, dataSet.subarray(0, 40_000)])); // cut short
    expect(await storedIntact(path, sha)).toBe(false);
    writeFileSync(path, Buffer.concat([header, Buffer.alloc(50_000, 0)])); // zeros where the data were
    expect(await storedIntact(path, sha)).toBe(false);
    writeFileSync(path, Buffer.alloc(0)); // empty
    expect(await storedIntact(path, sha)).toBe(false);
    expect(await storedIntact(join(dir, 'missing.dcm'), sha)).toBe(false);
    // larger than one read: hashed a chunk at a time
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    writeFileSync(path, Buffer.concat([header, big]));
    expect(await storedIntact(path, createHash('sha256').update(big).digest('hex'))).toBe(true);
    expect(await storedIntact(path, sha)).toBe(false);
  });
});
