import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { makeTmpDir, removeDir } from './files';

const ORTHANC_BIN = '/usr/sbin/Orthanc';

/** Orthanc's form of a remote modality: [AET, host, port]. */
export type Modality = [aet: string, host: string, port: number];

export interface OrthancOptions {
  aet?: string;
  modalities?: Record<string, Modality>;
  /** Further Orthanc configuration keys, merged last (e.g. { DicomCheckCalledAet: true }). */
  config?: Record<string, unknown>;
}

export interface OrthancPeer {
  aet: string;
  dicomPort: number;
  httpPort: number;
  /** Temp folder with the config, storage and log; removed by stop(). */
  dir: string;
  /** GET (or `init`) on Orthanc's REST API; parses JSON; throws on a non-2xx answer. */
  rest<T = unknown>(urlPath: string, init?: RequestInit): Promise<T>;
  stop(): Promise<void>;
}

/** Ports that were free a moment ago (held together, so they differ). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited(child);
  clearTimeout(killer);
}

/** Polls GET /system until it answers; false if the process exits first or the deadline passes. */
async function waitReady(child: ChildProcess, httpPort: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/system`);
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function startOnce(dir: string, opts: OrthancOptions): Promise<OrthancPeer | string> {
  const aet = opts.aet ?? 'ORTHANC_TEST';
  const [dicomPort, httpPort] = await freePorts(2);
  const config = {
    Name: 'lumbar-test',
    StorageDirectory: path.join(dir, 'storage'),
    IndexDirectory: path.join(dir, 'storage'),
    DicomAet: aet,
    DicomPort: dicomPort,
    HttpPort: httpPort,
    RemoteAccessAllowed: false,
    AuthenticationEnabled: false,
    DicomModalities: opts.modalities ?? {},
    Plugins: [],
    SaveJobs: false,
    ...opts.config,
  };
  const configPath = path.join(dir, 'orthanc.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const logPath = path.join(dir, 'orthanc.log');
  const logFd = openSync(logPath, 'w');
  const child = spawn(ORTHANC_BIN, [configPath], {
    env: { ...process.env, TCP_NODELAY: '1' },
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  // If the test process exits without stop() (a crash, a killed worker), take Orthanc along.
  const killOnExit = (): void => void child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  if (!(await waitReady(child, httpPort, 30_000))) {
    await stopProcess(child);
    return readFileSync(logPath, 'utf8').slice(-2000);
  }
  const base = `http://127.0.0.1:${httpPort}`;
  return {
    aet,
    dicomPort,
    httpPort,
    dir,
    async rest<T>(urlPath: string, init?: RequestInit): Promise<T> {
      const res = await fetch(base + urlPath, init);
      const text = await res.text();
      if (!res.ok) throw new Error(`Orthanc ${init?.method ?? 'GET'} ${urlPath}: HTTP ${res.status} ${text}`);
      return (text ? JSON.parse(text) : undefined) as T;
    },
    async stop() {
      await stopProcess(child);
      removeDir(dir);
    },
  };
}

/**
 * Starts a real Orthanc on loopback with free ports and a temp storage folder, and waits until its REST
 * API answers. Retries with new ports if it dies at start (a port taken between choosing and binding).
 * Note: Orthanc's DICOM port listens on all interfaces; its HTTP API refuses non-loopback clients.
 */
export async function startOrthanc(opts: OrthancOptions = {}): Promise<OrthancPeer> {
  if (!existsSync(ORTHANC_BIN)) throw new Error(`${ORTHANC_BIN} not found: run scripts/setup.sh`);
  let why = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = makeTmpDir('orthanc');
    const peer = await startOnce(dir, opts);
    if (typeof peer !== 'string') return peer;
    why = peer;
    removeDir(dir);
  }
  throw new Error(`Orthanc did not start (${ORTHANC_BIN}); last log:\n${why}`);
}

/** For a jest file: starts Orthanc in beforeAll, stops it in afterAll; call the getter inside tests. */
export function useOrthanc(opts: OrthancOptions = {}): () => OrthancPeer {
  let peer: OrthancPeer | undefined;
  beforeAll(async () => {
    peer = await startOrthanc(opts);
  });
  afterAll(async () => {
    await peer?.stop();
  });
  return () => {
    if (!peer) throw new Error('Orthanc is not running (useOrthanc getter called outside a test?)');
    return peer;
  };
}
