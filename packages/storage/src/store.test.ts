import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadStorageConfig, NotFoundError, UnavailableError, type S3Settings } from '@lumbar/core';
import {
  downloadPrefix,
  FsObjectStore,
  instanceKey,
  S3ObjectStore,
  uploadDir,
  type ObjectStore,
} from './index';
import { makeTmpDir } from '../../../test/helpers/files';
import { describeWithMoto, MOTO_KEY, startMoto, type Moto } from '../../../test/helpers/moto';
import { freePorts } from '../../../test/helpers/orthanc';

// The two ObjectStore implementations against the same expectations: a folder, and a bucket of a real S3 API
// (moto's server mode, started here on loopback). Then what only S3 has: an unreachable endpoint, no bucket.

const s3Settings = (endpoint: string, bucket: string, extra: Partial<S3Settings> = {}): S3Settings => ({
  endpoint,
  region: 'us-east-1',
  bucket,
  prefix: 'site-a/',
  ...MOTO_KEY,
  forcePathStyle: true,
  timeoutMs: 2000,
  ...extra,
});

function contract(name: string, make: () => ObjectStore) {
  describe(name, () => {
    let store: ObjectStore;
    beforeAll(() => {
      store = make();
    });

    it('puts and gets bytes; a missing key is a NotFoundError', async () => {
      await store.put('outputs/1/2/sr.dcm', Buffer.from('report'));
      expect((await store.get('outputs/1/2/sr.dcm')).toString()).toBe('report');
      await store.put('outputs/1/2/sr.dcm', Buffer.from('report 2')); // replaced
      expect((await store.get('outputs/1/2/sr.dcm')).toString()).toBe('report 2');
      await expect(store.get('outputs/1/2/none.dcm')).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.getToFile('outputs/9/9/x', path.join(makeTmpDir('dl'), 'x'))).rejects.toBeInstanceOf(
        NotFoundError,
      );
    });

    it('puts a file and copies it back; with ifAbsent the first copy stays', async () => {
      const dir = makeTmpDir('objs');
      const a = path.join(dir, 'a.dcm');
      const bytes = Buffer.alloc(300_000, 7);
      writeFileSync(a, bytes);
      const key = instanceKey('1.2.3', '1.2.3.4', '1.2.3.4.5');
      expect(await store.putFile(key, a, { ifAbsent: true })).toEqual({ created: true });
      writeFileSync(a, Buffer.from('another copy'));
      expect(await store.putFile(key, a, { ifAbsent: true })).toEqual({ created: false });
      const back = path.join(dir, 'back', 'b.dcm');
      await store.getToFile(key, back);
      expect(readFileSync(back).equals(bytes)).toBe(true);
    });

    it('lists the keys under a prefix, sorted, and nothing of another prefix', async () => {
      const src = makeTmpDir('up');
      mkdirSync(path.join(src, 'key-images'));
      for (const f of ['sr.dcm', 'seg-sagittal.dcm', 'key-images/1.png', 'key-images/2.png'])
        writeFileSync(path.join(src, f), f);
      const written = await uploadDir(store, src, 'outputs/7/70');
      await store.put('outputs/7/700/other.dcm', Buffer.from('x'));
      expect(written).toHaveLength(4);
      expect(await store.list('outputs/7/70/')).toEqual([
        'outputs/7/70/key-images/1.png',
        'outputs/7/70/key-images/2.png',
        'outputs/7/70/seg-sagittal.dcm',
        'outputs/7/70/sr.dcm',
      ]);
      expect(await store.list('outputs/nothing/')).toEqual([]);
      const dest = makeTmpDir('down');
      const got = await downloadPrefix(store, 'outputs/7/70/', dest);
      expect(got).toHaveLength(4);
      expect(readFileSync(path.join(dest, 'key-images', '2.png'), 'utf8')).toBe('key-images/2.png');
    });

    it('names a key by a location and back; refuses keys that would leave the store', async () => {
      const loc = store.location('outputs/3/4');
      expect(store.keyOf(loc)).toBe('outputs/3/4');
      expect(store.keyOf('/elsewhere/outputs/3/4')).toBeNull();
      expect(() => store.location('../etc/passwd')).toThrow(/not a plain relative key/);
      await expect(store.put('a//b', Buffer.from(''))).rejects.toThrow(/not a plain relative key/);
      await expect(store.list('../')).rejects.toThrow(/not a plain prefix/);
      await expect(store.check()).resolves.toBeUndefined();
    });
  });
}

contract('FsObjectStore', () => new FsObjectStore(makeTmpDir('fs-store')));

describeWithMoto('S3ObjectStore against moto_server', () => {
  let moto: Moto;
  beforeAll(async () => {
    moto = await startMoto();
    await moto.createBucket('lumbar-unit');
  }, 60_000);
  afterAll(async () => {
    await moto?.stop();
  });

  contract('S3ObjectStore', () => new S3ObjectStore(s3Settings(moto.endpoint, 'lumbar-unit')));

  it('keeps every key under its prefix, with the location s3://bucket/prefix/key', async () => {
    const a = new S3ObjectStore(s3Settings(moto.endpoint, 'lumbar-unit', { prefix: 'site-b/' }));
    await a.put('instances/9/9/9.dcm', Buffer.from('b'));
    expect(a.location('instances/9/9/9.dcm')).toBe('s3://lumbar-unit/site-b/instances/9/9/9.dcm');
    const other = new S3ObjectStore(s3Settings(moto.endpoint, 'lumbar-unit', { prefix: 'site-c/' }));
    expect(await other.list('instances/')).toEqual([]);
    expect(await a.list('instances/')).toEqual(['instances/9/9/9.dcm']);
    expect(other.keyOf(a.location('instances/9/9/9.dcm'))).toBeNull();
    a.close();
    other.close();
  });

  it('a bucket that does not exist: check() and put() are UnavailableErrors, not a missing key', async () => {
    const s = new S3ObjectStore(s3Settings(moto.endpoint, 'no-such-bucket'));
    await expect(s.check()).rejects.toThrow(/no bucket no-such-bucket/);
    const err = await s.put('instances/1/1/1.dcm', Buffer.from('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/NoSuchBucket/);
    s.close();
  });

  it('an endpoint nobody listens on: UnavailableError within the timeout and retries', async () => {
    const [port] = await freePorts(1);
    const s = new S3ObjectStore(s3Settings(`http://127.0.0.1:${port}`, 'lumbar-unit'));
    const t0 = Date.now();
    const err = await s.put('instances/1/1/1.dcm', Buffer.from('x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/unavailable.*ECONNREFUSED/);
    await expect(s.check()).rejects.toBeInstanceOf(UnavailableError);
    expect(Date.now() - t0).toBeLessThan(15_000);
    s.close();
  });

  it('the settings LUMBAR_STORAGE=s3 names make a working store', async () => {
    const storage = loadStorageConfig(moto.env('lumbar-unit', '/nested/prefix/'));
    expect(storage).toMatchObject({
      kind: 's3',
      s3: { bucket: 'lumbar-unit', prefix: 'nested/prefix/', forcePathStyle: true, endpoint: moto.endpoint },
    });
    if (storage.kind !== 's3') throw new Error('not s3');
    const s = new S3ObjectStore(storage.s3);
    await s.check();
    await s.put('outputs/1/1/x', Buffer.from('y'));
    expect(s.location('outputs/1/1/x')).toBe('s3://lumbar-unit/nested/prefix/outputs/1/1/x');
    s.close();
  });
});

describe('loadStorageConfig', () => {
  const s3 = { LUMBAR_STORAGE: 's3', LUMBAR_S3_BUCKET: 'lumbar' };
  it('is fs by default, and refuses S3 settings without LUMBAR_STORAGE=s3', () => {
    expect(loadStorageConfig({})).toEqual({ kind: 'fs' });
    expect(loadStorageConfig({ LUMBAR_STORAGE: 'fs', LUMBAR_S3_BUCKET: '' })).toEqual({ kind: 'fs' });
    expect(() => loadStorageConfig({ LUMBAR_S3_BUCKET: 'lumbar' })).toThrow(
      'LUMBAR_S3_BUCKET: set only with LUMBAR_STORAGE=s3',
    );
    expect(() => loadStorageConfig({ LUMBAR_STORAGE: 'nfs' })).toThrow(
      'LUMBAR_STORAGE: "nfs" is not a storage kind (expected fs or s3)',
    );
  });
  it('s3: defaults for AWS itself (no endpoint: virtual-hosted style, SDK credentials)', () => {
    expect(loadStorageConfig(s3)).toEqual({
      kind: 's3',
      s3: {
        endpoint: null,
        region: 'us-east-1',
        bucket: 'lumbar',
        prefix: '',
        accessKeyId: null,
        secretAccessKey: null,
        forcePathStyle: false,
        timeoutMs: 10_000,
      },
    });
    expect(loadStorageConfig({ ...s3, AWS_REGION: 'eu-west-3' })).toMatchObject({
      s3: { region: 'eu-west-3' },
    });
    expect(
      loadStorageConfig({
        ...s3,
        LUMBAR_S3_ENDPOINT: 'https://s3.example.org/',
        LUMBAR_S3_FORCE_PATH_STYLE: 'false',
      }),
    ).toMatchObject({ s3: { endpoint: 'https://s3.example.org', forcePathStyle: false } });
  });
  it.each([
    [{ LUMBAR_STORAGE: 's3' }, 'LUMBAR_S3_BUCKET: missing'],
    [{ ...s3, LUMBAR_S3_BUCKET: 'Lumbar_Data' }, 'LUMBAR_S3_BUCKET: "Lumbar_Data" is not a bucket name'],
    [{ ...s3, LUMBAR_S3_ENDPOINT: 'minio:9000' }, 'LUMBAR_S3_ENDPOINT: "minio:9000" is not an http(s) URL'],
    [{ ...s3, LUMBAR_S3_ENDPOINT: 'http://k:s@minio:9000' }, 'is not an http(s) URL without credentials'],
    [{ ...s3, LUMBAR_S3_REGION: 'EU West' }, 'LUMBAR_S3_REGION: "EU West" is not a region name'],
    [{ ...s3, LUMBAR_S3_PREFIX: 'a/../b' }, 'LUMBAR_S3_PREFIX: "a/../b" is not a key prefix'],
    [{ ...s3, LUMBAR_S3_ACCESS_KEY_ID: 'AKIA' }, 'LUMBAR_S3_SECRET_ACCESS_KEY: missing'],
    [{ ...s3, LUMBAR_S3_SECRET_ACCESS_KEY: 'shh-secret' }, 'LUMBAR_S3_ACCESS_KEY_ID: missing'],
    [{ ...s3, LUMBAR_S3_FORCE_PATH_STYLE: 'yes' }, 'LUMBAR_S3_FORCE_PATH_STYLE: "yes" is not true or false'],
    [
      { ...s3, LUMBAR_S3_TIMEOUT_MS: '5' },
      'LUMBAR_S3_TIMEOUT_MS: "5" is not an integer between 100 and 600000',
    ],
  ])('refuses %j', (env, message) => {
    let err: unknown;
    try {
      loadStorageConfig(env);
    } catch (e) {
      err = e;
    }
    expect((err as Error).name).toBe('ConfigError');
    expect((err as Error).message).toContain(message);
    expect((err as Error).message).not.toContain('shh-secret');
  });
});
