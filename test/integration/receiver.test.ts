import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import dimse from 'dcmjs-dimse';
import { createLogger } from '@lumbar/core';
import { cStore } from '@lumbar/exporter';
import { readPart10, writePart10 } from '@lumbar/dicom';
import { openDb } from '@lumbar/db';
import { openQueues, redisConnection, type Queues } from '@lumbar/jobs';
import { startReceiver, type Receiver } from '@lumbar/receiver';
import { readTag, storescu } from '../helpers/dcmtk';
import { findFiles, makeTmpDir } from '../helpers/files';
import { generatePhantom, studyDirs } from '../helpers/phantom';
import { useTestDatabase } from '../helpers/db';
import { capturingLogger } from '../helpers/log';
import { testConfig } from '../helpers/services';
import { runTool } from '../helpers/run';
import { startOrthanc } from '../helpers/orthanc';
import {
  exportTrust,
  instanceRowFor,
  makeTestPki,
  startTestReceiver,
  withTlsReceiver as withTestTlsReceiver,
  type TestReceiver,
} from '../helpers/receiver';

const t = useTestDatabase();
let receiver: Receiver;
let queues: Queues;
let study: string;
let files: string[];
let dataDir: string;

let rx: TestReceiver | undefined;

beforeAll(async () => {
  rx = await startTestReceiver(t, {
    LUMBAR_ALLOWED_CALLERS: 'STORESCU@127.0.0.1,DIMSE@127.0.0.1',
    LUMBAR_STABLE_SECONDS: '60',
    LUMBAR_MAX_ASSOCIATIONS: '1',
  });
  ({ receiver, queues, study, files } = rx);
  dataDir = rx.config.dataDir;
});

afterAll(async () => {
  await rx?.close();
});

const send = (paths: string[], aet = 'STORESCU', aec = 'LUMBAR') =>
  storescu({ port: receiver.port, aec, aet, paths });

/** Sends one data set with dcmjs-dimse, optionally with a command that names another SOP Instance UID. */
function sendDataset(file: string, commandUid?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const client = new dimse.Client();
    const request = new dimse.requests.CStoreRequest(file);
    if (commandUid) request.setAffectedSopInstanceUid(commandUid);
    let status = -1;
    request.on('response', (r: { getStatus(): number }) => (status = r.getStatus()));
    client.on('closed', () => resolve(status));
    client.on('networkError', reject);
    client.addRequest(request);
    client.send('127.0.0.1', receiver.port, 'DIMSE', 'LUMBAR');
  });
}

describe('receiver (C-STORE SCP) with storescu as the sender', () => {
  it('stores every instance durably with its row, then answers success; one debounced job per study', async () => {
    const run = await send([study]);
    expect(run.associationError).toBeUndefined();
    expect(run.results).toHaveLength(files.length);
    expect(run.results.every((r) => r.status === 0)).toBe(true);
    const rows = await t.db.instance.findMany();
    expect(rows).toHaveLength(files.length);
    for (const r of rows) {
      expect(existsSync(r.path)).toBe(true);
      expect(statSync(r.path).size).toBeGreaterThan(r.sizeBytes);
      expect(r.path.startsWith(path.join(dataDir, 'instances'))).toBe(true);
      // The stored file is a valid Part 10 file with the same instance.
      expect(readPart10(readFileSync(r.path), r.path, { headerOnly: true }).SOPInstanceUID).toBe(
        r.sopInstanceUid,
      );
    }
    const studies = await t.db.study.findMany();
    expect(studies).toHaveLength(1);
    expect(studies[0].instanceCount).toBe(files.length);
    const delayed = await queues.studies.getDelayed();
    expect(delayed.map((j) => j.name)).toEqual(['study.stable']);
    expect(delayed[0].data).toEqual({ studyId: studies[0].id });
    expect(Object.keys(delayed[0].data)).toEqual(['studyId']); // ids only, no patient data
  });

  it('accepts a re-sent study and stores nothing twice', async () => {
    const before = await t.db.instance.findMany({ orderBy: { id: 'asc' } });
    const run = await send([study]);
    expect(run.results.every((r) => r.status === 0)).toBe(true);
    const after = await t.db.instance.findMany({ orderBy: { id: 'asc' } });
    expect(after).toEqual(before);
    expect((await t.db.study.findFirstOrThrow()).instanceCount).toBe(files.length);
    expect(await queues.studies.getDelayedCount()).toBe(1);
  });

  it('replaces a stored file that is not whole when its instance is sent again (a power cut can leave one)', async () => {
    // The row is recorded while its file is fsynced: after a power cut a row can point to a file the disk never
    // got whole. The re-send is answered 0x0000 only once the stored copy is whole again.
    const row = await t.db.instance.findFirstOrThrow({ orderBy: { id: 'asc' } });
    const whole = readFileSync(row.path);
    writeFileSync(row.path, whole.subarray(0, whole.length - 4096)); // cut short
    const uids = await Promise.all(files.map((f) => readTag(f, '0008,0018')));
    const source = files[uids.indexOf(row.sopInstanceUid)];
    const run = await send([source]);
    expect(run.results.map((r) => r.status)).toEqual([0]);
    expect(readFileSync(row.path).equals(whole)).toBe(true);
    const after = await t.db.instance.findUniqueOrThrow({ where: { id: row.id } });
    expect(after).toEqual(row); // the same row, not a second one
    expect(await t.db.instance.count()).toBe(files.length);
  });

  it('rejects callers not in the allow-list and a wrong called AE title at association', async () => {
    const stranger = await send([files[0]], 'STRANGER');
    expect(stranger.associationError).toMatch(/Rejected/i);
    expect(stranger.output).toMatch(/Calling AE Title Not Recognized/i);
    const wrongCalled = await send([files[0]], 'STORESCU', 'OTHER');
    expect(wrongCalled.associationError).toMatch(/Rejected/i);
    expect(wrongCalled.output).toMatch(/Called AE Title Not Recognized/i);
  });

  it('listens on loopback only by default, on all interfaces or one address with LUMBAR_DICOM_HOST', async () => {
    expect(receiver.address).toBe('127.0.0.1');
    const config = testConfig(t.url, {
      LUMBAR_DICOM_HOST: '0.0.0.0',
      LUMBAR_ALLOWED_CALLERS: 'STORESCU@127.0.0.1',
    });
    const rx = await startReceiver({ config, db: t.db, queues, log: createLogger('rx', 'silent') });
    try {
      expect(rx.address).toBe('0.0.0.0');
      const echo = await runTool('echoscu', [
        '-aet',
        'STORESCU',
        '-aec',
        'LUMBAR',
        '127.0.0.1',
        String(rx.port),
      ]);
      expect(echo.code).toBe(0);
    } finally {
      await rx.close();
    }
  });

  it('logs the phases of each stored instance, and the two legs of its durable phase, at debug level', async () => {
    // what bench/profile-receiver.sh reads: `timingsMs` per phase, `durableMs` the fsyncs' and the row's legs
    let text = '';
    const config = testConfig(t.url, {
      LUMBAR_ALLOWED_CALLERS: 'STORESCU@127.0.0.1',
      LUMBAR_STABLE_SECONDS: '60',
    });
    const out = makeTmpDir('lumbar-rx-timings-');
    await generatePhantom(out, 5252, 1);
    const sent = findFiles(studyDirs(out)[0], '.dcm').slice(0, 6);
    const rx = await startReceiver({
      config,
      db: t.db,
      queues,
      log: capturingLogger((line) => (text += line)),
    });
    try {
      const res = await storescu({ port: rx.port, aec: 'LUMBAR', aet: 'STORESCU', paths: sent });
      expect(res.results.map((r) => r.status)).toEqual(sent.map(() => 0));
    } finally {
      await rx.close();
    }
    const stored = text
      .split('\n')
      .filter((l) => l.includes('"instance stored"'))
      .map((l) => JSON.parse(l) as { timingsMs: Record<string, number>; durableMs: Record<string, number> });
    expect(stored).toHaveLength(sent.length);
    for (const { timingsMs, durableMs } of stored) {
      expect(Object.keys(timingsMs)).toEqual(
        expect.arrayContaining(['receive', 'parse', 'place', 'durable', 'queue']),
      );
      expect(Object.keys(durableMs).sort()).toEqual(['fsyncs', 'row']);
      // both legs start once the row is sent, after the place phase: neither is longer than the durable phase
      for (const leg of [durableMs.fsyncs, durableMs.row]) {
        expect(leg).toBeGreaterThanOrEqual(0);
        expect(leg).toBeLessThanOrEqual(timingsMs.durable + 0.1); // each rounded to 0.1 ms
      }
    }
  });

  it('on close, finishes the association in flight and refuses new ones; nothing acknowledged is lost', async () => {
    const config = testConfig(t.url, {
      LUMBAR_DICOM_HOST: '127.0.0.1',
      LUMBAR_ALLOWED_CALLERS: 'STORESCU@127.0.0.1',
      LUMBAR_STABLE_SECONDS: '60',
    });
    const out = makeTmpDir('lumbar-rx-drain-');
    await generatePhantom(out, 5151, 1);
    const drainFiles = findFiles(studyDirs(out)[0], '.dcm');
    const uids = await Promise.all(drainFiles.map((f) => readTag(f, '0008,0018')));
    const stored = () => t.db.instance.count({ where: { sopInstanceUid: { in: uids as string[] } } });
    const rx = await startReceiver({ config, db: t.db, queues, log: createLogger('rx', 'silent') });
    const sending = storescu({ port: rx.port, aec: 'LUMBAR', aet: 'STORESCU', paths: drainFiles });
    // close once the first instances are stored, while the rest are still on their way
    const t0 = Date.now();
    while ((await stored()) === 0 && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 10));
    const atClose = await stored();
    expect(atClose).toBeGreaterThan(0);
    expect(atClose).toBeLessThan(drainFiles.length);
    const closing = rx.close(20_000);
    // a sender that comes after close began is refused at once
    const late = await storescu({ port: rx.port, aec: 'LUMBAR', aet: 'STORESCU', paths: [drainFiles[0]] });
    expect(late.code).not.toBe(0);
    expect(late.results.every((r) => r.status === null)).toBe(true);
    const run = await sending;
    const summary = await closing;
    // the association in flight went to its end: every instance acknowledged and stored, none cut
    expect(run.code).toBe(0);
    expect(run.results).toHaveLength(drainFiles.length);
    expect(run.results.every((r) => r.status === 0)).toBe(true);
    expect(await stored()).toBe(drainFiles.length);
    expect(summary).toEqual({ drained: 1, cut: 0 });
  }, 120_000);

  it('on close, cuts an association still held open after the grace period', async () => {
    const config = testConfig(t.url, {
      LUMBAR_DICOM_HOST: '127.0.0.1',
      LUMBAR_ALLOWED_CALLERS: 'DIMSE@127.0.0.1',
    });
    const rx = await startReceiver({ config, db: t.db, queues, log: createLogger('rx', 'silent') });
    // a sender that keeps its association open, idle, for 10 s after its last response
    const client = new dimse.Client();
    const echo = new dimse.requests.CEchoRequest();
    const answered = new Promise<void>((resolve) => echo.on('response', () => resolve()));
    const closedByPeer = new Promise<void>((resolve) => client.on('closed', () => resolve()));
    client.on('networkError', () => undefined);
    client.addRequest(echo);
    client.send('127.0.0.1', rx.port, 'DIMSE', 'LUMBAR', { associationLingerTimeout: 10_000 });
    await answered;
    const t0 = Date.now();
    const summary = await rx.close(200);
    expect(summary).toEqual({ drained: 0, cut: 1 });
    expect(Date.now() - t0).toBeLessThan(2_000);
    await closedByPeer;
  }, 60_000);

  it('answers C-ECHO', async () => {
    const run = await runTool(
      'echoscu',
      ['-aet', 'STORESCU', '-aec', 'LUMBAR', '127.0.0.1', String(receiver.port)],
      {
        env: { ...process.env, TCP_NODELAY: '1' },
      },
    );
    expect(run.code).toBe(0);
  });

  it('answers 0xC000 for a data set without Study Instance UID, and stores nothing', async () => {
    const ds = readPart10(readFileSync(files[0]), files[0]);
    delete ds.StudyInstanceUID;
    ds.SOPInstanceUID = '1.2.826.0.1.3680043.10.999.1';
    const file = path.join(makeTmpDir('lumbar-bad-'), 'no-study.dcm');
    writeFileSync(file, writePart10(ds));
    const run = await send([file]);
    expect(run.results[0].status).toBe(0xc000);
    expect(await t.db.instance.count({ where: { sopInstanceUid: ds.SOPInstanceUID as string } })).toBe(0);
  });

  it('answers 0xA900 when the data set UID contradicts the command', async () => {
    const status = await sendDataset(files[1], '1.2.826.0.1.3680043.10.999.2');
    expect(status).toBe(0xa900);
  });

  it('caps concurrent associations (transient rejection)', async () => {
    // One association held open by dcmjs-dimse (it lingers 3 s after its request), storescu tries a second.
    const client = new dimse.Client();
    client.addRequest(new dimse.requests.CEchoRequest());
    const accepted = new Promise<void>((r) => client.on('associationAccepted', () => r()));
    const closed = new Promise<void>((r) => client.on('closed', () => r()));
    client.send('127.0.0.1', receiver.port, 'DIMSE', 'LUMBAR', { associationLingerTimeout: 3000 });
    await accepted;
    const second = await send([files[0]]);
    expect(second.associationError).toMatch(/Rejected/i);
    expect(second.output).toMatch(/Local Limit Exceeded/i);
    await closed;
  });
});

describe('receiver when its dependencies are down', () => {
  it('answers 0xA700 when the database is unavailable and keeps no file', async () => {
    const config = testConfig('postgresql://postgres@127.0.0.1:1/nowhere', {
      LUMBAR_ALLOWED_CALLERS: 'STORESCU@127.0.0.1',
    });
    const r2 = redisConnection(config.redisUrl, 'producer');
    const q2 = openQueues(r2, config.queuePrefix);
    const db2 = openDb(config.databaseUrl);
    const rx = await startReceiver({ config, db: db2, queues: q2, log: createLogger('rx', 'silent') });
    try {
      const run = await storescu({ port: rx.port, aec: 'LUMBAR', aet: 'STORESCU', paths: [files[0]] });
      expect(run.results[0].status).toBe(0xa700);
      expect(findFiles(config.dataDir, '.dcm')).toEqual([]);
    } finally {
      await rx.close();
      await q2.close();
      r2.disconnect();
      await db2.$disconnect();
    }
  });

  it('answers 0xA700 when the queue (Redis) is unavailable', async () => {
    const config = testConfig(t.url, {
      LUMBAR_ALLOWED_CALLERS: 'STORESCU@127.0.0.1',
      LUMBAR_REDIS_URL: 'redis://127.0.0.1:1',
    });
    const r3 = redisConnection(config.redisUrl, 'producer');
    r3.on('error', () => undefined);
    const q3 = openQueues(r3, config.queuePrefix);
    q3.studies.on('error', () => undefined);
    const db3 = openDb(t.url);
    const rx = await startReceiver({ config, db: db3, queues: q3, log: createLogger('rx', 'silent') });
    try {
      const run = await storescu({ port: rx.port, aec: 'LUMBAR', aet: 'STORESCU', paths: [files[2]] });
      expect(run.results[0].status).toBe(0xa700);
    } finally {
      await rx.close();
      await q3.close().catch(() => undefined);
      r3.disconnect();
      await db3.$disconnect();
    }
  });
});

describe('receiver over DICOM TLS (storescu as the sender)', () => {
  let pki: string;
  const file = (n: string) => path.join(pki, n);

  beforeAll(async () => {
    pki = await makeTestPki();
  });

  const withTlsReceiver = (env: Record<string, string>, body: (port: number) => Promise<void>) =>
    withTestTlsReceiver(t, queues, env, body);
  const trust = (caFile: string, mutual = false) => exportTrust(pki, caFile, mutual);
  const rowFor = (f: string) => instanceRowFor(t.db, f);

  it('accepts a TLS association that verifies its certificate, and refuses plain TCP on that port', async () => {
    await t.db.instance.deleteMany({});
    await withTlsReceiver(
      { LUMBAR_DICOM_TLS_CERT: file('server.pem'), LUMBAR_DICOM_TLS_KEY: file('server.key') },
      async (port) => {
        const plain = await storescu({ port, aec: 'LUMBAR', aet: 'STORESCU', paths: [files[3]] });
        expect(plain.results.some((r) => r.status === 0)).toBe(false);
        expect(plain.code).not.toBe(0);
        expect(await rowFor(files[3])).toBeNull();
        const tls = await storescu({
          port,
          aec: 'LUMBAR',
          aet: 'STORESCU',
          paths: [files[3]],
          extraArgs: ['+tla', '+cf', file('ca.pem')],
        });
        expect(tls.associationError).toBeUndefined();
        expect(tls.results.map((r) => r.status)).toEqual([0]);
        expect(await rowFor(files[3])).not.toBeNull();
      },
    );
  });

  it('with a CA configured, requires a caller certificate signed by it (mutual TLS)', async () => {
    await t.db.instance.deleteMany({});
    const env = {
      LUMBAR_DICOM_TLS_CERT: file('server.pem'),
      LUMBAR_DICOM_TLS_KEY: file('server.key'),
      LUMBAR_DICOM_TLS_CA: file('ca.pem'),
    };
    await withTlsReceiver(env, async (port) => {
      const anonymous = await storescu({
        port,
        aec: 'LUMBAR',
        aet: 'STORESCU',
        paths: [files[4]],
        extraArgs: ['+tla', '+cf', file('ca.pem')],
      });
      expect(anonymous.results.some((r) => r.status === 0)).toBe(false);
      expect(await rowFor(files[4])).toBeNull();
      const mutual = await storescu({
        port,
        aec: 'LUMBAR',
        aet: 'STORESCU',
        paths: [files[4]],
        extraArgs: ['+tls', file('client.key'), file('client.pem'), '+cf', file('ca.pem')],
      });
      expect(mutual.results.map((r) => r.status)).toEqual([0]);
      expect(await rowFor(files[4])).not.toBeNull();
    });
  });

  it('exchanges with Orthanc, a real PACS, over mutual TLS both ways', async () => {
    const mutualEnv = {
      LUMBAR_DICOM_TLS_CERT: file('server.pem'),
      LUMBAR_DICOM_TLS_KEY: file('server.key'),
      LUMBAR_DICOM_TLS_CA: file('ca.pem'),
      LUMBAR_ALLOWED_CALLERS: 'ORTHANC_TEST@127.0.0.1',
    };
    await withTlsReceiver(mutualEnv, async (port) => {
      const orthanc = await startOrthanc({
        config: {
          DicomTlsEnabled: true,
          DicomTlsCertificate: file('server.pem'),
          DicomTlsPrivateKey: file('server.key'),
          DicomTlsTrustedCertificates: file('ca.pem'),
          DicomTlsRemoteCertificateRequired: true,
          DicomModalities: { lumbar: { AET: 'LUMBAR', Host: '127.0.0.1', Port: port, UseDicomTls: true } },
        },
      });
      try {
        // Orthanc -> our receiver (Orthanc presents its certificate; we check it against the CA)
        await t.db.instance.deleteMany({});
        const { ID } = await orthanc.rest<{ ID: string }>('/instances', {
          method: 'POST',
          body: readFileSync(files[8]),
        });
        await orthanc.rest('/modalities/lumbar/store', {
          method: 'POST',
          body: JSON.stringify({ Resources: [ID], Synchronous: true }),
        });
        expect(await rowFor(files[8])).not.toBeNull();
        // our exporter -> Orthanc: refused without our certificate, stored with it
        await orthanc.rest(`/instances/${ID}`, { method: 'DELETE' });
        const peer = { aeTitle: orthanc.aet, host: '127.0.0.1', port: orthanc.dicomPort };
        const anonymous = await cStore([files[7]], peer, 'LUMBAR', 10_000, trust(file('ca.pem')));
        expect(anonymous.statuses).toEqual([null]);
        expect(await orthanc.rest<string[]>('/instances')).toEqual([]);
        const sent = await cStore([files[7]], peer, 'LUMBAR', 10_000, trust(file('ca.pem'), true));
        expect(sent).toMatchObject({ associationError: null, statuses: [0] });
        expect(await orthanc.rest<string[]>('/instances')).toHaveLength(1);
      } finally {
        await orthanc.stop();
      }
    });
  });

  it('refuses to start, naming the setting, when a certificate file cannot be read', async () => {
    const config = testConfig(t.url, {
      LUMBAR_DICOM_TLS_CERT: file('missing.pem'),
      LUMBAR_DICOM_TLS_KEY: file('server.key'),
    });
    await expect(
      startReceiver({ config, db: t.db, queues, log: createLogger('rx', 'silent') }),
    ).rejects.toThrow(/LUMBAR_DICOM_TLS_CERT: cannot read .*missing\.pem.*ENOENT/);
  });
});
