/**
 * Issue 18, "past one machine": the services share nothing but PostgreSQL, Redis and an S3 bucket
 * (LUMBAR_STORAGE=s3). A receiver, TWO workers and an exporter (with the API) run as separate `lumbar serve`
 * processes, each with its OWN data folder, against a real S3 API on loopback (moto's server mode) and a real
 * PACS (Orthanc). Phantom studies are sent with storescu. Every study must be analysed exactly once, its
 * outputs must be in the bucket (and reach the PACS, and the API), and no worker may have read the receiver's
 * folder: the workers fetch the instances from the bucket. Then the bucket goes away: the receiver answers
 * 0xA700 (out of resources), never 0x0000.
 *
 * Skipped, with the reason printed, only when training/.venv/bin/moto_server is missing outside CI.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { storescu } from '../helpers/dcmtk';
import { findFiles, makeTmpDir, removeDir } from '../helpers/files';
import { describeWithMoto, startMoto, type Moto } from '../helpers/moto';
import { startOrthanc, type OrthancPeer } from '../helpers/orthanc';
import { cliMain, generatePhantom, studyDirs } from '../helpers/phantom';
import { runTool } from '../helpers/run';
import { useTestDatabase } from '../helpers/db';
import { spawnServe, type ServeProcess } from '../helpers/services';
import { waitFor } from '../helpers/wait';

const BUCKET = 'lumbar-scale-out';
const PREFIX = 'site-1';
const STUDIES = 3;
const API_KEY = `lk_scaleout_${'k'.repeat(40)}`;

describeWithMoto(
  'scale-out: receiver, two workers, exporter sharing only Postgres, Redis and a bucket',
  () => {
    const t = useTestDatabase();
    let moto: Moto;
    let pacs: OrthancPeer;
    let phantom: string;
    let studies: string[];
    const dirs = { receiver: '', worker1: '', worker2: '', exporter: '' };
    const nodes: ServeProcess[] = [];
    let receiver: ServeProcess;
    let workers: ServeProcess[];
    let dicomPort: number;
    let apiPort: number;

    /** Every key of the bucket under our prefix, without it. */
    async function bucketKeys(): Promise<string[]> {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const r = await moto.client.send(
          new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${PREFIX}/`, ContinuationToken: token }),
        );
        for (const o of r.Contents ?? []) keys.push(o.Key!.slice(PREFIX.length + 1));
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
    }

    beforeAll(async () => {
      phantom = makeTmpDir('scale-out-phantom');
      [moto, pacs] = await Promise.all([
        startMoto(),
        startOrthanc({ aet: 'PACS' }),
        generatePhantom(phantom, 1801, STUDIES + 1),
      ]);
      await moto.createBucket(BUCKET);
      studies = studyDirs(phantom);
      for (const k of Object.keys(dirs) as (keyof typeof dirs)[]) dirs[k] = makeTmpDir(`scale-out-${k}`);
      const common = {
        LUMBAR_DATABASE_URL: t.url,
        LUMBAR_QUEUE_PREFIX: `lumbar-scale-${process.pid}`,
        ...moto.env(BUCKET, PREFIX),
        LUMBAR_S3_TIMEOUT_MS: '3000',
        LUMBAR_DICOM_PORT: '0',
        LUMBAR_API_PORT: '0',
        LUMBAR_STABLE_SECONDS: '1',
        LUMBAR_ALLOWED_CALLERS: 'STORESCU@127.0.0.1',
        LUMBAR_DESTINATIONS: `PACS@127.0.0.1:${pacs.dicomPort}`,
        LUMBAR_EXPORT_BACKOFF_MS: '500',
      };
      // the receiver first (it migrates the database), then the others at once
      receiver = spawnServe(['receiver'], { ...common, LUMBAR_DATA_DIR: dirs.receiver });
      nodes.push(receiver);
      dicomPort = (await receiver.started()).ports!.dicom;
      workers = [dirs.worker1, dirs.worker2].map((d) =>
        spawnServe(['worker'], { ...common, LUMBAR_DATA_DIR: d }),
      );
      const exporter = spawnServe(['exporter', 'api'], {
        ...common,
        LUMBAR_DATA_DIR: dirs.exporter,
        LUMBAR_BOOTSTRAP_API_KEY: API_KEY,
      });
      nodes.push(...workers, exporter);
      const [, , front] = await Promise.all([...workers.map((w) => w.started()), exporter.started()]);
      apiPort = front.ports!.api;
    }, 120_000);

    afterAll(async () => {
      for (const n of nodes) if (n.child.exitCode === null) n.child.kill('SIGTERM');
      await Promise.all(nodes.map((n) => n.exited));
      await Promise.all([moto?.stop(), pacs?.stop()]);
      for (const d of [phantom, ...Object.values(dirs)]) if (d) removeDir(d);
    });

    it('analyses every study exactly once, from the bucket, with its outputs in the bucket, the PACS and the API', async () => {
      const sent = studies.slice(0, STUDIES);
      const files = sent.map((s) => findFiles(s, '.dcm'));
      const runs = await Promise.all(
        files.map((f) => storescu({ port: dicomPort, aec: 'LUMBAR', aet: 'STORESCU', paths: f })),
      );
      for (const r of runs) expect(r.results.map((x) => x.status).filter((s) => s !== 0)).toEqual([]);

      const exports = await waitFor(
        'every study analysed and exported',
        async () => {
          const done = await t.db.export.findMany({ where: { status: 'succeeded' } });
          return done.length === STUDIES ? done : undefined;
        },
        80_000,
        250,
      );
      expect(exports).toHaveLength(STUDIES);

      // exactly once: one analysis per study, succeeded at its first attempt
      const rows = await t.db.study.findMany({
        include: { analyses: { include: { outputs: true } }, series: { include: { instances: true } } },
        orderBy: { id: 'asc' },
      });
      expect(rows).toHaveLength(STUDIES);
      const keys = await bucketKeys();
      for (const study of rows) {
        expect(study.status).toBe('analyzed');
        expect(study.analyses.map((a) => [a.status, a.attempts])).toEqual([['succeeded', 1]]);
        const a = study.analyses[0];
        const out = `outputs/${study.id}/${a.id}`;
        expect(a.outputDir).toBe(`s3://${BUCKET}/${PREFIX}/${out}`);
        // every output the row names is in the bucket (SR, SEG, findings)
        expect(a.outputs.length).toBeGreaterThanOrEqual(2);
        for (const o of a.outputs) expect(keys).toContain(`${out}/${o.file}`);
        expect(keys).toContain(`${out}/findings.json`);
        // every instance row names its object, and the object is there
        const instances = study.series.flatMap((s) =>
          s.instances.map((i) => ({ i, uid: s.seriesInstanceUid })),
        );
        expect(instances.length).toBeGreaterThan(0);
        for (const { i, uid } of instances) {
          const key = `instances/${study.studyInstanceUid}/${uid}/${i.sopInstanceUid}.dcm`;
          expect(i.path).toBe(`s3://${BUCKET}/${PREFIX}/${key}`);
          expect(keys).toContain(key);
        }
      }
      const sentCount = files.flat().length;
      expect(keys.filter((k) => k.startsWith('instances/'))).toHaveLength(sentCount);

      // the workers fetched every instance from the bucket (their logs count them) ...
      const analysed = workers.flatMap((w) => w.records().filter((r) => r.msg === 'study analysed'));
      expect(analysed).toHaveLength(STUDIES);
      expect(analysed.reduce((n, r) => n + ((r as unknown as { fetched: number }).fetched ?? 0), 0)).toBe(
        sentCount,
      );
      // ... and nothing of the studies is left on them: no instance, no output, the scratch folders gone
      for (const d of [dirs.worker1, dirs.worker2, dirs.exporter]) {
        expect(findFiles(d, '.dcm')).toEqual([]);
        expect(existsSync(path.join(d, 'instances'))).toBe(false);
        expect(existsSync(path.join(d, 'outputs'))).toBe(false);
        if (existsSync(path.join(d, 'work'))) expect(readdirSync(path.join(d, 'work'))).toEqual([]);
      }
      // the receiver kept its own durable copy (fs layout, as without the bucket)
      expect(findFiles(path.join(dirs.receiver, 'instances'), '.dcm')).toHaveLength(sentCount);

      // the exporter read the outputs from the bucket: the PACS holds each study's objects, once
      const inPacs = await pacs.rest<string[]>('/instances');
      const outputs = rows.flatMap((s) => s.analyses[0].outputs);
      expect(inPacs).toHaveLength(outputs.length);

      // the API serves the SR from the bucket, byte for byte
      const study = rows[0];
      const sr = study.analyses[0].outputs.find((o) => o.kind === 'sr')!;
      const res = await fetch(`http://127.0.0.1:${apiPort}/studies/${study.id}/sr`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      expect(res.status).toBe(200);
      const body = Buffer.from(await res.arrayBuffer());
      const { Body } = await moto.client.send(
        new GetObjectCommand({
          Bucket: BUCKET,
          Key: `${PREFIX}/outputs/${study.id}/${study.analyses[0].id}/${sr.file}`,
        }),
      );
      expect(body.equals(Buffer.from(await Body!.transformToByteArray()))).toBe(true);
    }, 100_000);

    it('a bucket that does not exist, or a bad setting, stops `lumbar serve` with exit code 2 and a sentence', async () => {
      const serve = (env: Record<string, string>) =>
        runTool(process.execPath, [cliMain, 'serve', 'receiver'], {
          env: { ...process.env, LUMBAR_DATABASE_URL: t.url, LUMBAR_DICOM_PORT: '0', ...env },
          timeoutMs: 30_000,
        });
      const [missing, bad] = await Promise.all([
        serve({ ...moto.env('no-such-bucket', PREFIX), LUMBAR_DATA_DIR: makeTmpDir('scale-out-nobucket') }),
        serve({ LUMBAR_STORAGE: 's3', LUMBAR_S3_BUCKET: 'lumbar', LUMBAR_S3_ENDPOINT: 'minio:9000' }),
      ]);
      // the last line: on Node 20 the AWS SDK prints its support-policy warning first
      expect([missing.code, missing.stderr.trim().split('\n').pop()]).toEqual([
        2,
        `lumbar: cannot reach the object store s3://no-such-bucket/${PREFIX}/ at ${moto.endpoint} ` +
          '(LUMBAR_S3_BUCKET, LUMBAR_S3_ENDPOINT): object store: no bucket no-such-bucket',
      ]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/LUMBAR_S3_ENDPOINT: "minio:9000" is not an http\(s\) URL/);
    }, 60_000);

    it('with the bucket gone, the receiver answers 0xA700 and records nothing', async () => {
      await moto.stop();
      const file = findFiles(studies[STUDIES], '.dcm')[0];
      const run = await storescu({ port: dicomPort, aec: 'LUMBAR', aet: 'STORESCU', paths: [file] });
      expect(run.results.map((r) => r.status)).toEqual([0xa700]);
      expect(await t.db.study.count()).toBe(STUDIES);
      // the local copy of the refused instance is gone too: a re-send stores it whole once the bucket is back
      expect(findFiles(path.join(dirs.receiver, 'instances'), '.dcm')).toHaveLength(
        await t.db.instance.count(),
      );
      const failed = receiver.records().filter((r) => r.msg === 'C-STORE failed: storage');
      expect(failed.map((r) => (r as unknown as { err: string }).err)).toEqual([
        expect.stringMatching(/^object store: object store s3:\/\/lumbar-scale-out unavailable/),
      ]);
    }, 60_000);
  },
);
