// Shared by the node benchmarks (bench/latency.js, bench/services-memory.js): ports, waits, a throwaway
// database, Orthanc, phantom studies and `lumbar serve` processes, all on loopback.
const { execFileSync, spawn } = require('node:child_process');
const { mkdirSync, readdirSync, readFileSync, writeFileSync } = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const root = path.join(__dirname, '..');
const cli = path.join(root, 'packages/cli/dist/main.js');

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer().listen(0, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The p-quantile (nearest rank) of xs. */
const q = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];
};

async function until(what, probe, timeoutMs, everyMs = 50) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A database of that name on the local server, dropped (FORCE); the URL to reach it. */
function dropDatabase(name) {
  execFileSync(
    'psql',
    ['-q', '-h', '127.0.0.1', '-U', 'postgres', '-c', `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`],
    { stdio: 'ignore' },
  );
  return `postgresql://postgres@127.0.0.1:5432/${name}`;
}

/** `lumbar phantom` into DIR/in; the study folders, sorted. */
function phantomStudies(work, n, seed) {
  const out = path.join(work, 'in');
  execFileSync(process.execPath, [
    cli,
    'phantom',
    '--out',
    out,
    '--studies',
    String(n),
    '--seed',
    seed,
    '--quiet',
  ]);
  return readdirSync(out, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => path.join(out, e.name))
    .sort();
}

/** Orthanc (AE ORTHANC) on free ports, storing under work/orthanc; waits until its REST API answers. */
async function startOrthanc(work) {
  const [dicomPort, httpPort] = [await freePort(), await freePort()];
  mkdirSync(path.join(work, 'orthanc'), { recursive: true });
  const config = path.join(work, 'orthanc.json');
  writeFileSync(
    config,
    JSON.stringify({
      Name: 'bench',
      StorageDirectory: path.join(work, 'orthanc'),
      IndexDirectory: path.join(work, 'orthanc'),
      DicomAet: 'ORTHANC',
      DicomPort: dicomPort,
      HttpPort: httpPort,
      RemoteAccessAllowed: false,
      Plugins: [],
      SaveJobs: false,
      DicomCheckCalledAet: false,
      UnknownSopClassAccepted: true,
    }),
  );
  const child = spawn('/usr/sbin/Orthanc', [config], { stdio: 'ignore' });
  await until(
    'Orthanc to start',
    async () => (await fetch(`http://127.0.0.1:${httpPort}/system`).catch(() => null))?.ok,
    60_000,
  );
  const find = (query) =>
    fetch(`http://127.0.0.1:${httpPort}/tools/find`, {
      method: 'POST',
      body: JSON.stringify({ Level: 'Series', Query: query }),
    }).then((r) => r.json());
  return { child, dicomPort, httpPort, find };
}

/** `lumbar serve SERVICES...` with `env`; its log lines collected; resolves once it says it started. */
async function serve(services, env) {
  let log = '';
  const child = spawn(process.execPath, [cli, 'serve', ...services], {
    env: { ...process.env, LUMBAR_LOG_LEVEL: 'info', ...env },
  });
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  await until(
    `lumbar serve ${services.join(' ')} to start`,
    async () => log.includes('"lumbar-ai started"'),
    120_000,
  );
  const records = () =>
    log.split('\n').flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
  return { child, records, log: () => log };
}

/** Stops processes (SIGTERM, then waits). */
async function stopAll(children) {
  for (const c of [...children].reverse()) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    c.kill('SIGTERM');
    await new Promise((r) => c.once('exit', r));
  }
}

/** Resident memory now and at its peak (VmRSS, VmHWM) of a process, in MB; null once it is gone. */
function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number((new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status) ?? [])[1] ?? 0);
    return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** The pids of a process's children (the worker's analysis processes). */
function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

module.exports = {
  root,
  cli,
  freePort,
  sleep,
  q,
  until,
  dropDatabase,
  phantomStudies,
  startOrthanc,
  serve,
  stopAll,
  memoryOf,
  childrenOf,
};
