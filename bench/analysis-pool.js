#!/usr/bin/env node
// The analysis pool on phantom studies: throughput with 1 and 2 processes, the pool's own overhead per study
// and peak RSS per process. Usage: node bench/analysis-pool.js [STUDIES=12] [SEED=bench-pool]
// Prints one line per configuration and a JSON summary. Figures go to docs/BENCHMARKS.md with this command.
const { mkdtempSync, rmSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { root, q, phantomStudies } = require('./lib');

const { AnalysisPool, DEFAULT_MODELS_DIR } = require(path.join(root, 'packages/analysis/dist'));

const n = Number(process.argv[2] ?? 12);
const seed = process.argv[3] ?? 'bench-pool';
const r1 = (x) => Math.round(x * 10) / 10;

(async () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'lumbar-bench-pool-'));
  try {
    const studies = phantomStudies(work, n + 1, seed);
    const [warm, ...rest] = studies;
    const cores = os.cpus().length;
    const summary = { studies: rest.length, cores, runs: [] };
    for (const [size, threads] of [
      [1, null],
      [2, 1],
      [2, null],
    ]) {
      const pool = await AnalysisPool.start({
        settings: { modelsDir: DEFAULT_MODELS_DIR, providers: ['cpu'], intraOpThreads: threads },
        size,
        timeoutMs: 300_000,
        memoryLimitMb: 4000,
        retries: 0,
      });
      let k = 0;
      const out = () => path.join(work, 'out', `${size}-${threads}-${k++}`);
      // warm every process once (first-call costs of ONNX Runtime and OpenCV.js are not the steady state)
      await Promise.all(Array.from({ length: size }, () => pool.analyze({ study: warm, outDir: out() })));
      // the pool's own cost per study, one at a time: the round trip beyond the engine's analysis
      const overhead = [];
      const analysis = [];
      for (const s of rest.slice(0, 5)) {
        const o = await pool.analyze({ study: s, outDir: out() });
        overhead.push(o.totalMs - o.analysisMs);
        analysis.push(o.analysisMs);
      }
      // throughput: every study at once, the pool takes them as its processes free up
      const t0 = performance.now();
      await Promise.all(rest.map((s) => pool.analyze({ study: s, outDir: out() })));
      const wall = (performance.now() - t0) / 1000;
      const stats = pool.stats();
      await pool.close();
      const run = {
        processes: size,
        intraOpThreads: threads ?? `default (${Math.min(cores, 4)})`,
        studiesPerMinute: r1((rest.length / wall) * 60),
        wallSeconds: r1(wall),
        analysisMsP50: Math.round(q(analysis, 0.5)),
        poolOverheadMsP50: r1(q(overhead, 0.5)),
        poolOverheadMsMax: r1(Math.max(...overhead)),
        peakRssMb: stats.processes.map((p) => p.peakRssMb),
      };
      summary.runs.push(run);
      console.log(
        `pool of ${size} process(es), intra-op threads ${run.intraOpThreads}: ${run.studiesPerMinute} studies/min ` +
          `(${rest.length} studies in ${run.wallSeconds} s); one at a time: analysis p50 ${run.analysisMsP50} ms, ` +
          `pool overhead p50 ${run.poolOverheadMsP50} ms (max ${run.poolOverheadMsMax}); peak RSS per process ${run.peakRssMb.join(', ')} MB`,
      );
    }
    console.log(JSON.stringify(summary));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
})().catch((err) => {
  console.error(`bench/analysis-pool.js: ${err.message}`);
  process.exit(1);
});
