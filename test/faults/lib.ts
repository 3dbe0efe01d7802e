// Shared pieces of the fault suite (test/faults, `npm run test:faults`): real processes only. The node is
// `lumbar serve ...` in a child process; Redis, PostgreSQL and Orthanc are real servers this file starts and
// stops; senders are DCMTK's storescu or a dcmjs-dimse client that records every C-STORE response.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import dimse from 'dcmjs-dimse';
import type { PrismaClient } from '@lumbar/db';
import { readPart10 } from '@lumbar/dicom';
import { makeTmpDir, removeDir } from '../helpers/files';
import { freePorts } from '../helpers/orthanc';
import { cliMain, generatePhantom } from '../helpers/phantom';
import { waitFor } from '../helpers/wait';

dimse.log.setLevel('silent');

/** Every child this suite starts: killed if the test process ends without stopping them. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

const hasExited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;
const exitOf = (c: ChildProcess) =>
  hasExited(c) ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r()));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Prints a line to the real stderr (jest's console adds a stack trace to every line). */
export function note(line: string): void {
  process.stderr.write(`[faults] ${line}\n`);
}

// ---------------------------------------------------------------------------------------------------------
// The node: `lumbar serve [services]` as a child process

export interface LogRecord {
  msg: string;
  time?: number;
  pid?: number;
  ports?: { dicom?: number; api?: number };
  [k: string]: unknown;
}

export interface NodeProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  records(): LogRecord[];
  output(): string;
  /** Waits for "lumbar-ai started" and returns its ports. */
  started(timeoutMs?: number): Promise<{ dicom?: number; api?: number }>;
  /** SIGKILL, and waits for the exit. */
  kill(): Promise<void>;
  /** SIGTERM, SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
}

/** Starts `lumbar serve <services>` with the environment `env` (on top of this process's). */
export function startNode(services: string[], env: Record<string, string>): NodeProcess {
  const child = track(
    spawn(process.execPath, [cliMain, 'serve', ...services], {
      env: { ...process.env, LUMBAR_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const records = () =>
    out.split('\n').flatMap((l) => {
      if (!l.startsWith('{')) return [];
      try {
        return [JSON.parse(l) as LogRecord];
      } catch {
        return [];
      }
    });
  return {
    child,
    pid: child.pid!,
    exited,
    records,
    output: () => out,
    async started(timeoutMs = 60_000) {
      const rec = await waitFor(
        `lumbar serve ${services.join(' ')} to start`,
        async () => {
          if (hasExited(child))
            throw new Error(`lumbar serve exited ${child.exitCode}:\n${out.slice(-3000)}`);
          return records().find((r) => r.msg === 'lumbar-ai started');
        },
        timeoutMs,
        50,
      );
      return rec.ports ?? {};
    },
    async kill() {
      child.kill('SIGKILL');
      await exitOf(child);
    },
    async stop(graceMs = 20_000) {
      if (hasExited(child)) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// A dedicated redis-server on its own port

export interface RedisServer {
  port: number;
  url: string;
  /** Starts it (again) on the same port, empty (no persistence), and waits for PONG. */
  start(): Promise<void>;
  /** SIGKILL: the server is gone at once, as after a crash. */
  kill(): Promise<void>;
  /** FLUSHALL through redis-cli. */
  flushAll(): void;
}

export async function startRedis(): Promise<RedisServer> {
  const [port] = await freePorts(1);
  let child: ChildProcess | null = null;
  const srv: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = track(
        spawn(
          'redis-server',
          [
            '--port',
            String(port),
            '--bind',
            '127.0.0.1',
            '--save',
            '',
            '--appendonly',
            'no',
            '--daemonize',
            'no',
          ],
          { stdio: 'ignore' },
        ),
      );
      await waitFor(
        `redis-server on ${port}`,
        async () =>
          spawnSync('redis-cli', ['-p', String(port), 'PING'])
            .stdout?.toString()
            .trim() === 'PONG',
        10_000,
        50,
      );
    },
    async kill() {
      if (!child) return;
      child.kill('SIGKILL');
      await exitOf(child);
      child = null;
    },
    flushAll() {
      const r = spawnSync('redis-cli', ['-p', String(port), 'FLUSHALL']);
      if (r.stdout.toString().trim() !== 'OK') throw new Error(`FLUSHALL: ${r.stdout}${r.stderr}`);
    },
  };
  await srv.start();
  return srv;
}

/**
 * Jest hooks for a case whose node runs on its own Redis and is sent phantom studies: before all tests, starts a
 * redis-server and generates `studies` phantom studies (seed `seed`) in a new folder `faults-<name>-phantom`;
 * after them, kills the server and removes the folder. The fields are set once that beforeAll has run.
 */
export function useRedisAndPhantom(
  name: string,
  seed: number,
  studies: number,
): { redis: RedisServer; phantom: string } {
  const state = { redis: null! as RedisServer, phantom: '' };
  beforeAll(async () => {
    state.redis = await startRedis();
    state.phantom = makeTmpDir(`faults-${name}-phantom`);
    await generatePhantom(state.phantom, seed, studies);
  }, 120_000);
  afterAll(async () => {
    await state.redis?.kill();
    if (state.phantom) removeDir(state.phantom);
  });
  return state;
}

// ---------------------------------------------------------------------------------------------------------
// A dedicated PostgreSQL (initdb + pg_ctl of the installed server), or null where there is none

export interface PgServer {
  port: number;
  /** A database URL on this server (the database is created by the node at start). */
  url(db: string): string;
  start(): void;
  /** pg_ctl stop -m immediate: every connection is cut at once, as a crash does. */
  stopImmediate(): void;
  destroy(): void;
}

/** The bin folder of the newest installed PostgreSQL with initdb and pg_ctl, or null. */
export function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter(
      (v) =>
        existsSync(path.join(root, v, 'bin', 'initdb')) && existsSync(path.join(root, v, 'bin', 'pg_ctl')),
    )
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0], 'bin') : null;
}

export async function startPostgres(bin: string): Promise<PgServer> {
  const [port] = await freePorts(1);
  const dir = makeTmpDir('faults-pg');
  const data = path.join(dir, 'data');
  mkdirSync(data);
  // initdb refuses to run as root: the server runs as the postgres user, as the system one does
  const asRoot = process.getuid?.() === 0;
  const pgUser = asRoot ? spawnSync('id', ['-u', 'postgres']).stdout.toString().trim() : '';
  if (asRoot) {
    const gid = Number(spawnSync('id', ['-g', 'postgres']).stdout.toString().trim());
    chownSync(dir, Number(pgUser), gid);
    chownSync(data, Number(pgUser), gid);
  }
  const run = (cmd: string, args: string[]) => {
    const full = asRoot
      ? ['runuser', ['-u', 'postgres', '--', path.join(bin, cmd), ...args]]
      : [path.join(bin, cmd), args];
    const r = spawnSync(full[0] as string, full[1] as string[], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0)
      throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${r.stdout}\n${r.stderr}`);
  };
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const srv: PgServer = {
    port,
    url: (db) => `postgresql://postgres@127.0.0.1:${port}/${db}`,
    start: () =>
      run('pg_ctl', ['-D', data, '-o', opts, '-l', path.join(dir, 'log'), '-w', '-t', '30', 'start']),
    stopImmediate: () => run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']),
    destroy: () => {
      try {
        srv.stopImmediate();
      } catch {
        /* not running */
      }
      removeDir(dir);
    },
  };
  srv.start();
  return srv;
}

// ---------------------------------------------------------------------------------------------------------
// Orthanc on fixed ports with a storage that survives a restart (the PACS that goes down and comes back)

export interface Pacs {
  aet: string;
  dicomPort: number;
  httpPort: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  rest<T = unknown>(urlPath: string, init?: RequestInit): Promise<T>;
  /** Instances of one study by Modality (SEG, SR, OT...), from /tools/find. */
  countByModality(studyInstanceUid: string): Promise<Record<string, number>>;
  destroy(): Promise<void>;
}

export async function createPacs(aet = 'ORTHANC'): Promise<Pacs> {
  const [dicomPort, httpPort] = await freePorts(2);
  const dir = makeTmpDir('faults-orthanc');
  const configPath = path.join(dir, 'orthanc.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      Name: 'lumbar-faults',
      StorageDirectory: path.join(dir, 'storage'),
      IndexDirectory: path.join(dir, 'storage'),
      DicomAet: aet,
      DicomPort: dicomPort,
      HttpPort: httpPort,
      RemoteAccessAllowed: false,
      AuthenticationEnabled: false,
      DicomModalities: {},
      Plugins: [],
      SaveJobs: false,
    }),
  );
  let child: ChildProcess | null = null;
  const base = `http://127.0.0.1:${httpPort}`;
  const pacs: Pacs = {
    aet,
    dicomPort,
    httpPort,
    async start() {
      const logFd = openSync(path.join(dir, 'orthanc.log'), 'a');
      child = track(spawn('/usr/sbin/Orthanc', [configPath], { stdio: ['ignore', logFd, logFd] }));
      closeSync(logFd);
      const c = child;
      await waitFor(
        'Orthanc to answer',
        async () => {
          if (hasExited(c))
            throw new Error(
              `Orthanc exited:\n${readFileSync(path.join(dir, 'orthanc.log'), 'utf8').slice(-2000)}`,
            );
          try {
            return (await fetch(`${base}/system`)).ok;
          } catch {
            return false;
          }
        },
        30_000,
        100,
      );
    },
    async stop() {
      if (!child) return;
      child.kill('SIGTERM');
      const c = child;
      const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exitOf(c);
      clearTimeout(t);
      child = null;
    },
    async rest<T>(urlPath: string, init?: RequestInit): Promise<T> {
      const res = await fetch(base + urlPath, init);
      const text = await res.text();
      if (!res.ok) throw new Error(`Orthanc ${urlPath}: HTTP ${res.status} ${text}`);
      return (text ? JSON.parse(text) : undefined) as T;
    },
    async countByModality(studyInstanceUid) {
      // Modality is a series attribute: find the study's series, count the instances of each
      const series = await pacs.rest<Array<{ MainDicomTags: { Modality?: string }; Instances: string[] }>>(
        '/tools/find',
        {
          method: 'POST',
          body: JSON.stringify({
            Level: 'Series',
            Query: { StudyInstanceUID: studyInstanceUid },
            Expand: true,
          }),
        },
      );
      const counts: Record<string, number> = {};
      for (const s of series) {
        const m = s.MainDicomTags.Modality ?? '?';
        counts[m] = (counts[m] ?? 0) + s.Instances.length;
      }
      return counts;
    },
    async destroy() {
      await pacs.stop();
      removeDir(dir);
    },
  };
  await pacs.start();
  return pacs;
}

// ---------------------------------------------------------------------------------------------------------
// Senders

export interface SendOutcome {
  /** Per file: the C-STORE status, or null when no response came. */
  statuses: (number | null)[];
  /** Per file: the response's Error Comment (0000,0902), if any. */
  comments: (string | undefined)[];
  accepted: boolean;
  /** { result, source, reason } of an A-ASSOCIATE-RJ. */
  rejected: { result: number; source: number; reason: number } | null;
  error: string | null;
  ms: number;
}

/**
 * Sends files in one association with a dcmjs-dimse client, recording every C-STORE response. Resolves
 * when the association ends (released, rejected, aborted, refused) or after `timeoutMs`, which counts as a
 * hang: `error` says so.
 */
export function sendFiles(
  port: number,
  files: string[],
  opts: {
    aet?: string;
    aec?: string;
    timeoutMs?: number;
    onResponse?: (i: number, status: number) => void;
  } = {},
): Promise<SendOutcome> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const client = new dimse.Client();
    const out: SendOutcome = {
      statuses: files.map(() => null),
      comments: files.map(() => undefined),
      accepted: false,
      rejected: null,
      error: null,
      ms: 0,
    };
    files.forEach((f, i) => {
      const req = new dimse.requests.CStoreRequest(f);
      req.on('response', (r: { getStatus(): number; getErrorComment(): string | undefined }) => {
        out.statuses[i] = r.getStatus();
        out.comments[i] = r.getErrorComment() || undefined;
        opts.onResponse?.(i, r.getStatus());
      });
      client.addRequest(req);
    });
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      out.ms = Date.now() - t0;
      resolve(out);
    };
    const timer = setTimeout(() => {
      out.error ??= `HANG: no end within ${opts.timeoutMs ?? 60_000} ms`;
      try {
        client.abort();
      } catch {
        /* not connected */
      }
      finish();
    }, opts.timeoutMs ?? 60_000);
    client.on('associationAccepted', () => (out.accepted = true));
    client.on('associationRejected', (r: { result: number; source: number; reason: number }) => {
      out.rejected = { result: r.result, source: r.source, reason: r.reason };
    });
    client.on('networkError', (e: Error) => {
      out.error ??= e.message;
      finish();
    });
    client.on('closed', () => finish());
    client.send('127.0.0.1', port, opts.aet ?? 'FAULTS', opts.aec ?? 'LUMBAR', { connectTimeout: 10_000 });
  });
}

// ---------------------------------------------------------------------------------------------------------
// What was stored

export interface InstanceInfo {
  file: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  sha256: string;
}

/** The SOP and Study Instance UIDs and the data-set hash of phantom files (headers only). */
export function describe_(files: string[]): InstanceInfo[] {
  return files.map((file) => {
    const buf = readFileSync(file);
    const ds = readPart10(buf, file, { headerOnly: true });
    return {
      file,
      sopInstanceUid: String(ds.SOPInstanceUID),
      studyInstanceUid: String(ds.StudyInstanceUID),
      sha256: createHash('sha256').update(buf).digest('hex'),
    };
  });
}

/** Files left in `<data>/incoming` (partial uploads). */
export function incomingFiles(dataDir: string): string[] {
  const dir = path.join(dataDir, 'incoming');
  return existsSync(dir) ? readdirSync(dir) : [];
}

/**
 * Checks that every SOP Instance UID in `acked` has exactly one row, and that the row's file exists, is a
 * whole DICOM file (it parses to its Pixel Data) and hashes to the row's sha256. Returns the problems.
 */
export async function checkStored(db: PrismaClient, acked: Iterable<string>): Promise<string[]> {
  const uids = [...new Set(acked)];
  const rows = await db.instance.findMany({ where: { sopInstanceUid: { in: uids } } });
  const byUid = new Map(rows.map((r) => [r.sopInstanceUid, r]));
  const problems: string[] = [];
  for (const uid of uids) {
    const row = byUid.get(uid);
    if (!row) {
      problems.push(`${uid}: acknowledged, no database row`);
      continue;
    }
    if (!existsSync(row.path)) {
      problems.push(`${uid}: row, but no file at ${row.path}`);
      continue;
    }
    const buf = readFileSync(row.path);
    if (buf.length < 144 || buf.toString('latin1', 128, 132) !== 'DICM') {
      problems.push(`${uid}: ${row.path} is not a Part 10 file (${buf.length} bytes)`);
      continue;
    }
    // the row's sha256 is of the data set as received: the bytes after the file meta group (0002,xxxx),
    // whose length is the value of (0002,0000) at offset 140
    const dataSet = buf.subarray(144 + buf.readUInt32LE(140));
    if (createHash('sha256').update(dataSet).digest('hex') !== row.sha256)
      problems.push(
        `${uid}: file ${row.path} does not hash to its row (half-written?): ` +
          `${dataSet.length} data-set bytes, row says ${row.sizeBytes}`,
      );
    else if (dataSet.length !== row.sizeBytes)
      problems.push(`${uid}: file holds ${dataSet.length} bytes, row says ${row.sizeBytes}`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------
// An association held open: a raw A-ASSOCIATE-RQ (PS3.8 9.3.2) for Verification, then nothing until release()

const ae16 = (s: string) => Buffer.from(s.padEnd(16, ' ').slice(0, 16), 'latin1');
function item(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt8(type, 0);
  h.writeUInt16BE(body.length, 2);
  return Buffer.concat([h, body]);
}
const uidItem = (type: number, uid: string) => item(type, Buffer.from(uid, 'latin1'));

function associateRq(calling: string, called: string): Buffer {
  const pc = item(
    0x20,
    Buffer.concat([
      Buffer.from([1, 0, 0, 0]), // presentation context id 1
      uidItem(0x30, '1.2.840.10008.1.1'), // Verification
      uidItem(0x40, '1.2.840.10008.1.2'), // Implicit VR Little Endian
    ]),
  );
  const maxLen = Buffer.alloc(4);
  maxLen.writeUInt32BE(16384);
  const body = Buffer.concat([
    Buffer.from([0, 1, 0, 0]), // protocol version 1, reserved
    ae16(called),
    ae16(calling),
    Buffer.alloc(32),
    uidItem(0x10, '1.2.840.10008.3.1.1.1'), // DICOM application context
    pc,
    item(0x50, item(0x51, maxLen)), // user information: maximum PDU length
  ]);
  const h = Buffer.alloc(6);
  h.writeUInt8(0x01, 0);
  h.writeUInt32BE(body.length, 2);
  return Buffer.concat([h, body]);
}

export interface HeldAssociation {
  /** 'accepted' (A-ASSOCIATE-AC), 'rejected' (A-ASSOCIATE-RJ, with its result/source/reason) or 'closed'. */
  outcome: 'accepted' | 'rejected' | 'closed';
  reject?: { result: number; source: number; reason: number };
  /** A-RELEASE-RQ, waits for A-RELEASE-RP (or the close). */
  release(): Promise<void>;
}

/** Opens an association and holds it open (no DIMSE traffic) until release(). */
export function holdAssociation(
  port: number,
  calling = 'FAULTS',
  called = 'LUMBAR',
): Promise<HeldAssociation> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let settled = false;
    let onReleased: (() => void) | null = null;
    const timer = setTimeout(() => {
      sock.destroy();
      if (!settled) reject(new Error('HANG: no answer to A-ASSOCIATE-RQ within 10 s'));
    }, 10_000);
    const held = (outcome: HeldAssociation['outcome'], rj?: HeldAssociation['reject']): HeldAssociation => ({
      outcome,
      reject: rj,
      release: () =>
        new Promise<void>((r) => {
          if (sock.destroyed) return r();
          onReleased = r;
          sock.write(Buffer.from([0x05, 0, 0, 0, 0, 4, 0, 0, 0, 0]));
          setTimeout(() => {
            sock.destroy();
            r();
          }, 5000);
        }),
    });
    const settle = (h: HeldAssociation) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(h);
    };
    sock.on('connect', () => sock.write(associateRq(calling, called)));
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 6 && buf.length >= 6 + buf.readUInt32BE(2)) {
        const type = buf[0];
        const pdu = buf.subarray(6, 6 + buf.readUInt32BE(2));
        buf = buf.subarray(6 + pdu.length);
        if (type === 0x02) settle(held('accepted'));
        else if (type === 0x03) settle(held('rejected', { result: pdu[1], source: pdu[2], reason: pdu[3] }));
        else if (type === 0x06) {
          sock.end();
          (onReleased as (() => void) | null)?.();
        }
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      settle(held('closed'));
      (onReleased as (() => void) | null)?.();
    });
  });
}
