import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '@lumbar/core';
import { makeTmpDir } from './files';
import { cliMain } from './phantom';
import { waitFor } from './wait';

/** A configuration for one test file: its own data folder, queue prefix and database, loopback peers. */
export function testConfig(databaseUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    LUMBAR_DATABASE_URL: databaseUrl,
    LUMBAR_DATA_DIR: makeTmpDir('lumbar-data-'),
    LUMBAR_QUEUE_PREFIX: `lumbar-test-${randomBytes(4).toString('hex')}`,
    LUMBAR_DICOM_PORT: '0',
    LUMBAR_API_PORT: '0',
    LUMBAR_LOG_LEVEL: 'silent',
    // the C-STORE SCP implementation under test (LUMBAR_DICOM_SCP=lean|dcmjs-dimse npx jest ...)
    ...(process.env.LUMBAR_DICOM_SCP ? { LUMBAR_DICOM_SCP: process.env.LUMBAR_DICOM_SCP } : {}),
    ...env,
  });
}

/** One line of a `lumbar serve` log (pino JSON), with the fields the tests read. */
export interface ServeLogRecord {
  msg: string;
  pid?: number;
  ports?: { api: number; dicom: number };
}

/** A `lumbar serve` process started by a test: its output (stdout and stderr) and its log records. */
export interface ServeProcess {
  child: ChildProcessWithoutNullStreams;
  exited: Promise<number | null>;
  output(): string;
  /** Every output line that is a log record (a library's plain warning is not). */
  records(): ServeLogRecord[];
  /** Waits for the "lumbar-ai started" record (it carries the ports). */
  started(timeoutMs?: number): Promise<ServeLogRecord>;
}

/** Runs the built `lumbar serve SERVICES...` with `env` over this process's environment, logging at info. */
export function spawnServe(services: string[], env: Record<string, string>): ServeProcess {
  const child = spawn(process.execPath, [cliMain, 'serve', ...services], {
    env: { ...process.env, LUMBAR_LOG_LEVEL: 'info', ...env },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const records = () =>
    out
      .split('\n')
      .filter(Boolean)
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as ServeLogRecord];
        } catch {
          return [];
        }
      });
  const started = (timeoutMs = 60_000) =>
    waitFor('the start line', async () => records().find((l) => l.msg === 'lumbar-ai started'), timeoutMs);
  return { child, exited, output: () => out, records, started };
}
