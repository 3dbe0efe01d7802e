import { statSync } from 'node:fs';
import { runTool } from './run';

// DCMTK stalls ~45 ms per instance on Nagle's algorithm unless TCP_NODELAY=1 (see PITFALLS.md).
const toolEnv = (): NodeJS.ProcessEnv => ({ ...process.env, TCP_NODELAY: '1' });

export const STATUS_SUCCESS = 0x0000;

export interface StoreResult {
  file: string;
  sopInstanceUid?: string;
  /** DIMSE status of the C-STORE response; null when no response came (e.g. the send failed). */
  status: number | null;
  /** Status text from the response, or the error storescu printed. */
  message: string;
}

export interface StorescuRun {
  results: StoreResult[];
  /** The association failure storescu reported, if any (rejected, refused, aborted). */
  associationError?: string;
  code: number | null;
  output: string;
}

export interface StorescuOptions {
  port: number;
  host?: string;
  /** Called AE title (the peer's). */
  aec: string;
  /** Calling AE title (ours). */
  aet?: string;
  /** Files and/or folders; folders are scanned recursively for `pattern`. */
  paths: string[];
  pattern?: string;
  /**
   * Propose only the SOP classes of the files sent (storescu -R): needed for classes outside storescu's
   * default proposal list, such as Segmentation Storage.
   */
  requiredOnly?: boolean;
  /** Further storescu options placed before the host, e.g. TLS: ['+tla', '+cf', 'ca.pem']. */
  extraArgs?: string[];
}

/** Parses `storescu -d` output into one result per file it tried to send. */
export function parseStorescu(output: string): { results: StoreResult[]; associationError?: string } {
  const results: StoreResult[] = [];
  let current: StoreResult | undefined;
  let associationError: string | undefined;
  for (const line of output.split('\n')) {
    let m: RegExpMatchArray | null;
    if ((m = line.match(/^I: Sending file: (.+)$/))) {
      current = { file: m[1], status: null, message: '' };
      results.push(current);
    } else if ((m = line.match(/^D: Affected SOP Instance UID\s*: (\S+)/)) && current) {
      current.sopInstanceUid = m[1];
    } else if ((m = line.match(/^D: DIMSE Status\s*: 0x([0-9A-Fa-f]{4})(?::\s*(.*))?/)) && current) {
      current.status = parseInt(m[1], 16);
      current.message = m[2] ?? '';
    } else if ((m = line.match(/^[EF]: (.*)$/))) {
      if (current && current.status === null) current.message = `${current.message} ${m[1]}`.trim();
      if (/Association (Rejected|Request Failed|Aborted)/i.test(m[1])) associationError ??= m[1];
      else if (associationError && !associationError.includes(m[1])) associationError += ` ${m[1]}`;
    }
  }
  return { results, associationError };
}

/** Sends DICOM files with DCMTK's storescu and returns the per-instance C-STORE statuses. */
export async function storescu(opts: StorescuOptions): Promise<StorescuRun> {
  const args = ['-d', '-nh', '-aet', opts.aet ?? 'LUMBAR_SCU', '-aec', opts.aec];
  if (opts.requiredOnly) args.push('-R');
  if (opts.extraArgs) args.push(...opts.extraArgs);
  if (opts.paths.some((p) => statSync(p).isDirectory()))
    args.push('+sd', '+r', '+sp', opts.pattern ?? '*.dcm');
  args.push(opts.host ?? '127.0.0.1', String(opts.port), ...opts.paths);
  const run = await runTool('storescu', args, { env: toolEnv(), timeoutMs: 300_000 });
  const output = run.stdout + run.stderr;
  return { ...parseStorescu(output), code: run.code, output };
}

async function dump(tool: string, file: string, args: string[]): Promise<string> {
  const run = await runTool(tool, [...args, file], { env: toolEnv() });
  if (run.code !== 0) throw new Error(`${tool} ${file} exited ${run.code}: ${run.stderr || run.stdout}`);
  return run.stdout;
}

export const dcmdump = (file: string, args: string[] = []): Promise<string> => dump('dcmdump', file, args);
export const dsrdump = (file: string, args: string[] = []): Promise<string> => dump('dsrdump', file, args);

/** The value of one top-level attribute as dcmdump prints it (keyword or gggg,eeee), or undefined. */
export async function readTag(file: string, tag: string): Promise<string | undefined> {
  const out = await dcmdump(file, ['-s', '+P', tag]);
  const m = out.match(/^\([0-9a-f]{4},[0-9a-f]{4}\) \S\S (?:\[([^\]]*)\]|\(no value available\)|(\S+))/m);
  return m ? (m[1] ?? m[2] ?? '') : undefined;
}

export interface Verification {
  errors: string[];
  warnings: string[];
  output: string;
}

/** Parses dciodvfy's output; lines look like `Error - ...` or `(gggg,eeee) VR Name  - Warning - ...`. */
export function parseDciodvfy(output: string): Verification {
  const lines = output.split('\n').map((l) => l.trim());
  return {
    errors: lines.filter((l) => /(^|\s-\s)Error - /.test(l)),
    warnings: lines.filter((l) => /(^|\s-\s)Warning - /.test(l)),
    output,
  };
}

/** Validates a file against its IOD with dicom3tools' dciodvfy (its exit code does not tell). */
export async function dciodvfy(file: string): Promise<Verification> {
  const run = await runTool('dciodvfy', [file]);
  return parseDciodvfy(run.stdout + run.stderr);
}
