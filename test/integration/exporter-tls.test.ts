import path from 'node:path';
import { cStore } from '@lumbar/exporter';
import { useTestDatabase } from '../helpers/db';
import {
  exportTrust,
  instanceRowFor,
  makeTestPki,
  startTestReceiver,
  withTlsReceiver as withTestTlsReceiver,
  type TestReceiver,
} from '../helpers/receiver';
import { testConfig } from '../helpers/services';
import { exportTlsOptions } from '@lumbar/exporter';

// The exporter (C-STORE SCU) over DICOM TLS, against our own receiver (TLS and plain ones).
const t = useTestDatabase();
let rx: TestReceiver | undefined;
let receiver: TestReceiver['receiver'];
let files: string[];
let pki: string;
const file = (n: string) => path.join(pki, n);

beforeAll(async () => {
  rx = await startTestReceiver(t, {
    LUMBAR_ALLOWED_CALLERS: 'STORESCU@127.0.0.1,DIMSE@127.0.0.1',
    LUMBAR_STABLE_SECONDS: '60',
    LUMBAR_MAX_ASSOCIATIONS: '1',
  });
  ({ receiver, files } = rx);
  pki = await makeTestPki();
});

afterAll(async () => {
  await rx?.close();
});

const withTlsReceiver = (env: Record<string, string>, body: (port: number) => Promise<void>) =>
  withTestTlsReceiver(t, rx!.queues, env, body);
const trust = (caFile: string, mutual = false) => exportTrust(pki, caFile, mutual);
const rowFor = (f: string) => instanceRowFor(t.db, f);

describe('exporter over DICOM TLS (our receiver as the peer)', () => {
  it('the exporter (C-STORE SCU) sends over TLS, verifying the peer against its CA, with its own certificate for mutual TLS', async () => {
    await t.db.instance.deleteMany({});
    const peer = (port: number) => ({ aeTitle: 'LUMBAR', host: '127.0.0.1', port });
    await withTlsReceiver(
      { LUMBAR_DICOM_TLS_CERT: file('server.pem'), LUMBAR_DICOM_TLS_KEY: file('server.key') },
      async (port) => {
        const plain = await cStore([files[5]], peer(port), 'STORESCU', 10_000);
        expect(plain.associationError).not.toBeNull();
        const untrusted = await cStore(
          [files[5]],
          peer(port),
          'STORESCU',
          10_000,
          trust(file('other-ca.pem')),
        );
        expect(untrusted.associationError).toMatch(/network error/);
        expect(untrusted.statuses).toEqual([null]);
        expect(await rowFor(files[5])).toBeNull();
        const ok = await cStore([files[5]], peer(port), 'STORESCU', 10_000, trust(file('ca.pem')));
        expect(ok).toMatchObject({ associationError: null, statuses: [0] });
        expect(await rowFor(files[5])).not.toBeNull();
      },
    );
    const mutualEnv = {
      LUMBAR_DICOM_TLS_CERT: file('server.pem'),
      LUMBAR_DICOM_TLS_KEY: file('server.key'),
      LUMBAR_DICOM_TLS_CA: file('ca.pem'),
    };
    await withTlsReceiver(mutualEnv, async (port) => {
      const noCert = await cStore([files[6]], peer(port), 'STORESCU', 10_000, trust(file('ca.pem')));
      expect(noCert.statuses).toEqual([null]);
      const mutual = await cStore([files[6]], peer(port), 'STORESCU', 10_000, trust(file('ca.pem'), true));
      expect(mutual).toMatchObject({ associationError: null, statuses: [0] });
      expect(await rowFor(files[6])).not.toBeNull();
    });
  });

  it('the exporter speaks TLS only to the destinations LUMBAR_EXPORT_TLS_DESTINATIONS names, plain TCP to the others', async () => {
    await t.db.instance.deleteMany({});
    const tlsEnv = { LUMBAR_DICOM_TLS_CERT: file('server.pem'), LUMBAR_DICOM_TLS_KEY: file('server.key') };
    // two receivers: a TLS one (this describe's helper) and the plain one of this file (port receiver.port)
    await withTlsReceiver(tlsEnv, async (tlsPort) => {
      const secure = `LUMBAR@127.0.0.1:${tlsPort}`;
      const plain = `LUMBAR@127.0.0.1:${receiver.port}`;
      const exporter = (only: string) =>
        testConfig(t.url, {
          LUMBAR_DESTINATIONS: `${secure},${plain}`,
          LUMBAR_EXPORT_TLS_CA: file('ca.pem'),
          ...(only ? { LUMBAR_EXPORT_TLS_DESTINATIONS: only } : {}),
        }).export.tls;
      const sendTo = (tls: ReturnType<typeof exporter>, dest: string, f: string) => {
        const [aeTitle, hostPort] = dest.split('@');
        const [host, port] = hostPort.split(':');
        return cStore(
          [f],
          { aeTitle, host, port: Number(port) },
          'STORESCU',
          10_000,
          exportTlsOptions(tls, dest),
        );
      };
      // without the list every destination gets TLS: the plain receiver cannot be reached
      const all = exporter('');
      expect((await sendTo(all, plain, files[7])).statuses).toEqual([null]);
      expect(await rowFor(files[7])).toBeNull();
      // with the list: TLS to the secure receiver, plain TCP to the other; both store
      const some = exporter(secure);
      expect(await sendTo(some, secure, files[7])).toMatchObject({ associationError: null, statuses: [0] });
      expect(await sendTo(some, plain, files[8])).toMatchObject({ associationError: null, statuses: [0] });
      expect(await rowFor(files[7])).not.toBeNull();
      expect(await rowFor(files[8])).not.toBeNull();
    });
  });
});
