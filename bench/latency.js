#!/usr/bin/env node
// Latency of the whole node: from the last instance of a study received to its SEG and SR stored in a PACS
// (Orthanc), with the quiet period (LUMBAR_STABLE_SECONDS) taken out; plus the worker's own overhead per study
// beyond the analysis. Studies are sent one at a time with storescu; each is waited for before the next.
// Needs Postgres and Redis on loopback (a database lumbar_bench_latency is created and dropped), Orthanc and
// dcmtk. One more study is sent first to warm the node and not counted.
// Usage: node bench/latency.js [STUDIES=20] [SEED=bench-latency]
const { execFileSync } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const lib = require('./lib');

const { openDb } = require(path.join(lib.root, 'packages/db/dist'));
const { q, until } = lib;

const n = Number(process.argv[2] ?? 20);
const seed = process.argv[3] ?? 'bench-latency';
const STABLE_SECONDS = 1;
const DB_NAME = 'lumbar_bench_latency';

(async () => {
  const dbUrl = lib.dropDatabase(DB_NAME);
  const work = mkdtempSync(path.join(os.tmpdir(), 'lumbar-bench-latency-'));
  const children = [];
  let db;
  try {
    const studies = lib.phantomStudies(work, n + 1, seed);
    const orthanc = await lib.startOrthanc(work);
    children.push(orthanc.child);
    const [ourDicom, ourApi] = [await lib.freePort(), await lib.freePort()];
    const node = await lib.serve([], {
      LUMBAR_DATABASE_URL: dbUrl,
      LUMBAR_DATA_DIR: path.join(work, 'var'),
      LUMBAR_QUEUE_PREFIX: `bench-${process.pid}`,
      LUMBAR_DICOM_PORT: String(ourDicom),
      LUMBAR_API_PORT: String(ourApi),
      LUMBAR_STABLE_SECONDS: String(STABLE_SECONDS),
      LUMBAR_ALLOWED_CALLERS: 'BENCH@127.0.0.1',
      LUMBAR_DESTINATIONS: `ORTHANC@127.0.0.1:${orthanc.dicomPort}`,
    });
    children.push(node.child);
    db = openDb(dbUrl);
    const latencies = [];
    let lastStudyId = null;
    for (const [i, dir] of studies.entries()) {
      execFileSync(
        'storescu',
        ['-aet', 'BENCH', '-aec', 'LUMBAR', '+sd', '+r', '+sp', '*.dcm', '127.0.0.1', String(ourDicom), dir],
        { stdio: 'ignore' },
      );
      // the study just sent is the newest one (each is waited for before the next; ids may skip numbers)
      const study = await until(
        'the study recorded',
        () => db.study.findFirst({ orderBy: { id: 'desc' }, skip: 0 }),
        30_000,
      );
      if (i > 0 && study.id === lastStudyId)
        throw new Error(`study ${i + 1} was not recorded as a new study`);
      lastStudyId = study.id;
      const exp = await until(
        `study ${i + 1} exported`,
        async () => {
          const e = await db.export.findFirst({
            where: { status: 'succeeded', analysis: { studyId: study.id } },
            include: { analysis: { include: { study: true } } },
          });
          return e ?? undefined;
        },
        120_000,
      );
      const ms = exp.sentAt.getTime() - exp.analysis.study.lastReceivedAt.getTime() - STABLE_SECONDS * 1000;
      // the first study warms the node (the database client's first queries); it is not counted
      if (i === 0) {
        console.log(`warm-up study: ${ms} ms (not counted)`);
        continue;
      }
      latencies.push(ms);
      console.log(
        `study ${i + 1}/${studies.length}: ${ms} ms from the last instance to SEG and SR in Orthanc (quiet period excluded)`,
      );
    }
    // the first study was the warm-up
    const analysed = node
      .records()
      .filter((r) => r.msg === 'study analysed')
      .slice(1);
    const r1 = (x) => Math.round(x * 10) / 10;
    const overhead = analysed.map((r) => r1(r.handlerMs - r.analysisMs));
    const median = (key) => r1(q(analysed.map(key), 0.5));
    const seg = await orthanc.find({ Modality: 'SEG' });
    const sr = await orthanc.find({ Modality: 'SR' });
    const summary = {
      studies: latencies.length,
      cores: os.cpus().length,
      latencyMs: { p50: q(latencies, 0.5), p95: q(latencies, 0.95), max: Math.max(...latencies) },
      workerOverheadMs: { p50: q(overhead, 0.5), p95: q(overhead, 0.95), max: Math.max(...overhead) },
      analysisMsP50: median((r) => r.analysisMs),
      // the worker's own steps (medians, ms): before the analysis, moving the outputs, storing, queueing
      stepsMsP50: {
        before: median((r) => r.steps.beforeMs),
        move: median((r) => r.steps.moveMs),
        save: median((r) => r.steps.saveMs),
        queue: median((r) => r.steps.queueMs),
        poolRoundTrip: median((r) => r.poolMs - r.analysisMs),
      },
      inOrthanc: { segSeries: seg.length, srSeries: sr.length },
    };
    console.log(
      `latency over ${summary.studies} studies: p50 ${summary.latencyMs.p50} ms, p95 ${summary.latencyMs.p95} ms; ` +
        `worker overhead beyond the analysis: p50 ${summary.workerOverheadMs.p50} ms, p95 ${summary.workerOverheadMs.p95} ms; ` +
        `Orthanc holds ${seg.length} SEG and ${sr.length} SR series`,
    );
    console.log(JSON.stringify(summary));
  } finally {
    await db?.$disconnect();
    await lib.stopAll(children);
    lib.dropDatabase(DB_NAME);
    rmSync(work, { recursive: true, force: true });
  }
})().catch((err) => {
  console.error(`bench/latency.js: ${err.message}`);
  process.exit(1);
});
