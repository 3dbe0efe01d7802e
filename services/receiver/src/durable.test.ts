import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DurableDirs, metadataCalls, onLocalFileSystem, SYNCHRONOUS, THREAD_POOL } from './durable';

describe('onLocalFileSystem', () => {
  it('tells a local file system from one that is not, through the nearest existing parent', () => {
    expect(onLocalFileSystem(tmpdir())).toBe(true);
    expect(onLocalFileSystem(join(tmpdir(), 'not', 'made', 'yet'))).toBe(true);
    expect(onLocalFileSystem('/proc/self')).toBe(false); // procfs: not in the list
    expect(metadataCalls(tmpdir())).toBe(SYNCHRONOUS);
    expect(metadataCalls('/proc/self')).toBe(THREAD_POOL);
  });
});

describe.each([
  ['synchronous', SYNCHRONOUS],
  ['thread pool', THREAD_POOL],
])('metadata calls (%s)', (_name, calls) => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lumbar-durable-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('link, rename, unlink and a folder fsync do what they say, and errors reject with their code', async () => {
    const a = join(dir, 'a');
    writeFileSync(a, 'data');
    await calls.link(a, join(dir, 'b'));
    await expect(calls.link(a, join(dir, 'b'))).rejects.toMatchObject({ code: 'EEXIST' });
    await calls.rename(join(dir, 'b'), join(dir, 'c'));
    await calls.unlink(a);
    expect([existsSync(a), existsSync(join(dir, 'b')), readFileSync(join(dir, 'c'), 'utf8')]).toEqual([
      false,
      false,
      'data',
    ]);
    await expect(calls.unlink(a)).rejects.toMatchObject({ code: 'ENOENT' });
    await calls.fsyncDir(dir);
    await expect(calls.fsyncDir(join(dir, 'gone'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('DurableDirs makes a folder once and shares its fsyncs', async () => {
    const dirs = new DurableDirs(calls);
    const deep = join(dir, 'x', 'y');
    await Promise.all([dirs.ensure(deep), dirs.ensure(deep)]);
    expect(existsSync(deep)).toBe(true);
    await Promise.all([dirs.sync(deep), dirs.sync(deep), dirs.sync(deep)]);
  });
});
