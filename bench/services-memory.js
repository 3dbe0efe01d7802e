#!/usr/bin/env node
// Peak memory of each service under load: the receiver, the worker (and its analysis processes), the
// exporter and the API run as separate `lumbar serve <service>` processes, as on several machines; 50
// associations at once send 10 instances each (storescu), the studies are analysed and exported to Orthanc.
// Resident memory is sampled from /proc every 100 ms; the peak (VmHWM) is printed per process.
// Needs Postgres and Redis on loopback (a database lumbar_bench_memory is created and dropped), Orthanc and
// dcmtk. Usage: node bench/services-memory.js [ASSOCIATIONS=50] [PER_ASSOCIATION=10]
const { execFile } = require('node:child_process');
const { mkdtempSync, readdirSync, rmSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { promisify } = require('node:util');
const lib = require('./lib');

const associations = Number(process.argv[2] ?? 50);
const perAssociation = Number(process.argv[3] ?? 10);
const SERVICES = ['receiver', 'worker', 'exporter', 'api'];

const filesOf = (dir) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.dcm'))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();

(async () => {
  const dbUrl = lib.dropDatabase('lumbar_bench_memory');
  const work = mkdtempSync(path.join(os.tmpdir(), 'lumbar-bench-memory-'));
  const children = [];
  let sampler;
  try {
    // about 40 instances a study: enough studies for every association to send its own files
    const studies = lib.phantomStudies(
      work,
      Math.ceil((associations * perAssociation) / 38) + 1,
      'bench-memory',
    );
    const files = studies.flatMap(filesOf).slice(0, associations * perAssociation);
    if (files.length < associations * perAssociation)
      throw new Error(`only ${files.length} instances generated`);
    const say = (m) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${m}`);
    say(`${files.length} instances of ${studies.length} phantom studies`);
    const orthanc = await lib.startOrthanc(work);
    children.push(orthanc.child);
    const [dicomPort, apiPort] = [await lib.freePort(), await lib.freePort()];
    const env = {
      LUMBAR_DATABASE_URL: dbUrl,
      LUMBAR_DATA_DIR: path.join(work, 'var'),
      LUMBAR_QUEUE_PREFIX: `bench-mem-${process.pid}`,
      LUMBAR_DICOM_PORT: String(dicomPort),
      LUMBAR_API_PORT: String(apiPort),
      LUMBAR_STABLE_SECONDS: '2',
      LUMBAR_MAX_ASSOCIATIONS: String(Math.max(64, associations)),
      LUMBAR_ALLOWED_CALLERS: 'BENCH@127.0.0.1',
      LUMBAR_DESTINATIONS: `ORTHANC@127.0.0.1:${orthanc.dicomPort}`,
    };
    // the API first: it creates and migrates the database; the others then find it ready
    const procs = {};
    for (const s of ['api', 'receiver', 'worker', 'exporter']) {
      say(`starting lumbar serve ${s}`);
      procs[s] = await lib.serve([s], env);
      children.push(procs[s].child);
    }
    const peak = {};
    const sample = () => {
      const pids = Object.fromEntries(SERVICES.map((s) => [s, procs[s].child.pid]));
      for (const [i, pid] of lib.childrenOf(pids.worker).entries()) pids[`analysis process ${i + 1}`] = pid;
      for (const [name, pid] of Object.entries(pids)) {
        const m = lib.memoryOf(pid);
        if (m) peak[name] = Math.max(peak[name] ?? 0, m.peakMb, m.rssMb);
      }
    };
    sample();
    const idle = { ...peak };
    sampler = setInterval(sample, 100);
    say(`sending: ${associations} associations at once`);
    const t0 = performance.now();
    const run = promisify(execFile);
    await Promise.all(
      Array.from({ length: associations }, (_, i) =>
        run('storescu', [
          '-aet',
          'BENCH',
          '-aec',
          'LUMBAR',
          '127.0.0.1',
          String(dicomPort),
          ...files.slice(i * perAssociation, (i + 1) * perAssociation),
        ]),
      ),
    );
    const sent = performance.now() - t0;
    const { openDb } = require(path.join(lib.root, 'packages/db/dist'));
    const db = openDb(dbUrl);
    try {
      const rows = await db.instance.count();
      if (rows !== files.length) throw new Error(`${rows} rows stored for ${files.length} instances sent`);
      const nStudies = await db.study.count();
      say(`${rows} instances stored; waiting for ${nStudies} studies to be exported`);
      // every study analysed (or failed: the last one may be cut short by the instance count) and every export
      // of an analysed study sent
      await lib.until(
        'every study analysed and exported',
        async () =>
          (await db.study.count({ where: { status: { in: ['analyzed', 'failed'] } } })) === nStudies &&
          (await db.export.count({ where: { status: { not: 'succeeded' } } })) === 0,
        600_000,
        500,
      );
      const failed = await db.study.count({ where: { status: 'failed' } });
      const total = performance.now() - t0;
      sample();
      clearInterval(sampler);
      console.log(
        `${associations} associations x ${perAssociation} instances: sent in ${(sent / 1000).toFixed(1)} s, ` +
          `${nStudies - failed} studies analysed and exported (${failed} failed) in ${(total / 1000).toFixed(1)} s`,
      );
      for (const [name, mb] of Object.entries(peak))
        console.log(
          `peak resident memory, ${name}: ${Math.round(mb)} MB (idle before the load: ${Math.round(idle[name] ?? 0)} MB)`,
        );
      console.log(
        JSON.stringify({ associations, perAssociation, studies: nStudies, peakMb: peak, idleMb: idle }),
      );
    } finally {
      await db.$disconnect();
    }
  } finally {
    clearInterval(sampler);
    await lib.stopAll(children);
    lib.dropDatabase('lumbar_bench_memory');
    rmSync(work, { recursive: true, force: true });
  }
})().catch((err) => {
  console.error(`bench/services-memory.js: ${err.message}`);
  process.exit(1);
});
