import { readdirSync, readFileSync } from 'node:fs';
import { readPart10 } from '@lumbar/dicom';
import { serve, type Running } from '@lumbar/server';
import { storescu } from '../helpers/dcmtk';
import { findFiles, makeTmpDir } from '../helpers/files';
import { freePorts, startOrthanc, type OrthancPeer } from '../helpers/orthanc';
import { generatePhantom, studyDirs } from '../helpers/phantom';
import { useTestDatabase } from '../helpers/db';
import { serveEnv } from '../helpers/serve-env';
import { waitFor } from '../helpers/wait';

// The product as a site runs it (`lumbar serve`: receiver, worker, exporter, API in one process), between
// a real PACS (Orthanc) and a real scanner (DCMTK storescu), on loopback.
const t = useTestDatabase();
const KEY = 'lk_e2etest1_0123456789abcdefghijklmnopqrstuvwxyz';
let orthanc: OrthancPeer;
let running: Running;
let phantomOut: string;

interface FeedItem {
  studyInstanceUid: string;
  level: string;
  diagnosis: string;
}

async function api<T>(urlPath: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${running.ports.api}${urlPath}`, {
    headers: { authorization: `Bearer ${KEY}` },
  });
  if (!res.ok) throw new Error(`GET ${urlPath}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** The modalities of the series Orthanc holds for a study, by Study Instance UID. */
async function orthancModalities(studyUid: string): Promise<string[]> {
  const hits = await orthanc.rest<{ ID: string; Type: string }[]>('/tools/lookup', {
    method: 'POST',
    body: studyUid,
  });
  const study = hits.find((h) => h.Type === 'Study');
  if (!study) return [];
  const series = await orthanc.rest<{ MainDicomTags: { Modality?: string } }[]>(
    `/studies/${study.ID}/series`,
  );
  return series.map((s) => s.MainDicomTags.Modality ?? '').sort();
}

beforeAll(async () => {
  const dicomPort = (await freePorts(1))[0];
  orthanc = await startOrthanc({
    aet: 'ORTHANC',
    modalities: { lumbar: ['LUMBAR', '127.0.0.1', dicomPort] },
  });
  running = await serve(
    undefined,
    serveEnv(t.url, {
      LUMBAR_DICOM_PORT: String(dicomPort),
      LUMBAR_API_HOST: '127.0.0.1',
      LUMBAR_STABLE_SECONDS: '2',
      LUMBAR_DESTINATIONS: `ORTHANC@127.0.0.1:${orthanc.dicomPort}`,
      LUMBAR_ALLOWED_CALLERS: 'ORTHANC@127.0.0.1,STORESCU@127.0.0.1',
      LUMBAR_BOOTSTRAP_API_KEY: KEY,
      LUMBAR_LOG_LEVEL: 'silent',
    }),
  );
  phantomOut = makeTmpDir('lumbar-e2e-');
  await generatePhantom(phantomOut, 2026, 2);
});

afterAll(async () => {
  await running?.stop();
  await orthanc?.stop();
});

describe('end to end: PACS -> lumbar-ai -> PACS, and the RIS feed', () => {
  let cursor: string | undefined;

  it('a study pushed from Orthanc comes back as SEG, SR and key image within 60 s; /findings lists it', async () => {
    const dir = studyDirs(phantomOut)[0];
    let orthancStudy = '';
    for (const f of findFiles(dir, '.dcm')) {
      const r = await orthanc.rest<{ ParentStudy: string }>('/instances', {
        method: 'POST',
        body: readFileSync(f),
      });
      orthancStudy = r.ParentStudy;
    }
    const studyUid = (
      await orthanc.rest<{ MainDicomTags: { StudyInstanceUID: string } }>(`/studies/${orthancStudy}`)
    ).MainDicomTags.StudyInstanceUID;
    const before = await orthancModalities(studyUid);
    expect(before).not.toContain('SEG');
    const t0 = Date.now();
    await orthanc.rest('/modalities/lumbar/store', {
      method: 'POST',
      body: JSON.stringify({ Resources: [orthancStudy], Synchronous: true }),
    });
    const modalities = await waitFor(
      'SEG, SR and key image in Orthanc',
      async () => {
        const m = await orthancModalities(studyUid);
        return m.includes('SEG') && m.includes('SR') && m.includes('OT') ? m : undefined;
      },
      60_000,
      500,
    );
    expect(Date.now() - t0).toBeLessThan(60_000);
    expect(modalities.filter((m) => m === 'SEG').length).toBeGreaterThanOrEqual(1);

    const feed = await api<{ items: FeedItem[]; nextCursor: string | null }>('/findings');
    const mine = feed.items.filter((i) => i.studyInstanceUid === studyUid);
    expect(mine.map((i) => i.level).sort()).toEqual(['L4-L5', 'L5-S1']);
    const db = await t.db.finding.findMany({
      where: { analysis: { study: { studyInstanceUid: studyUid } } },
    });
    expect(mine.map((i) => `${i.level}:${i.diagnosis}`).sort()).toEqual(
      db.map((f) => `${f.level}:${f.diagnosis}`).sort(),
    );
    cursor = feed.nextCursor ?? undefined;
    expect(cursor).toBeTruthy();
  });

  it('the same with DCMTK storescu as the sender; the feed from the last cursor holds only the new study', async () => {
    const dir = studyDirs(phantomOut)[1];
    const run = await storescu({ port: running.ports.dicom!, aec: 'LUMBAR', aet: 'STORESCU', paths: [dir] });
    expect(run.results.length).toBeGreaterThan(0);
    expect(run.results.every((r) => r.status === 0)).toBe(true);
    const first = findFiles(dir, '.dcm')[0];
    const studyUid = readPart10(readFileSync(first), first, { headerOnly: true }).StudyInstanceUID as string;
    await waitFor(
      'SEG and SR in Orthanc',
      async () => {
        const m = await orthancModalities(studyUid);
        return m.includes('SEG') && m.includes('SR') ? m : undefined;
      },
      60_000,
      500,
    );
    const feed = await waitFor('the new findings in the feed', async () => {
      const f = await api<{ items: FeedItem[]; nextCursor: string | null }>(
        `/findings?since=${encodeURIComponent(cursor!)}`,
      );
      return f.items.length >= 2 ? f : undefined;
    });
    expect(new Set(feed.items.map((i) => i.studyInstanceUid))).toEqual(new Set([studyUid]));
    expect(feed.items.map((i) => i.level).sort()).toEqual(['L4-L5', 'L5-S1']);
    expect(readdirSync(running.config.dataDir)).toEqual(expect.arrayContaining(['instances', 'outputs']));
  });
});
