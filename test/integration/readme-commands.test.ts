// The README's commands, verbatim, in a fresh clone (issue 16): what a newcomer types after `git clone`.
// `npx lumbar` only works if npm linked the `lumbar` bin at install time, before anything is built; a
// node_modules shared with this tree would hide that, so the clone installs its own (npm ci, through
// `npm run demo`, about a minute). Uncommitted changes of this tree are laid over the clone, so that a
// developer tests what they are about to commit; CI's own fresh clone has none.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runTool, type RunResult } from '../helpers/run';
import { repoRoot } from '../helpers/shared';

const work = mkdtempSync(path.join(os.tmpdir(), 'lumbar-readme-'));
const clone = path.join(work, 'lumbar-ai');

/** git clone of this repository, plus its modified, deleted and untracked (not ignored) files. */
function freshClone(): void {
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', repoRoot, clone]);
  const changed = execFileSync('git', ['ls-files', '-z', '--modified', '--others', '--exclude-standard'], {
    cwd: repoRoot,
    encoding: 'utf8',
  })
    .split('\0')
    .filter(Boolean);
  for (const rel of new Set(changed)) {
    const from = path.join(repoRoot, rel);
    const to = path.join(clone, rel);
    rmSync(to, { force: true });
    if (!existsSync(from) && !isSymlink(from)) continue; // deleted here
    mkdirSync(path.dirname(to), { recursive: true });
    if (isSymlink(from)) symlinkSync(readlinkSync(from), to);
    else {
      copyFileSync(from, to);
      chmodSync(to, statSync(from).mode & 0o777); // the run bit of bin/lumbar.js, for one
    }
  }
  // The Python venv is not what this test is about, and building one takes minutes: reuse this tree's.
  const venv = path.join(repoRoot, 'training', '.venv');
  const target = path.join(clone, 'training', '.venv');
  if (existsSync(venv) && !existsSync(target)) symlinkSync(venv, target);
}

function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** A newcomer's shell: none of the npm_* variables of an `npm test` that runs this file. */
const env: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_|^INIT_CWD$/i.test(k))),
  // npx must never fetch a stranger's `lumbar` from the registry when the link is missing: it fails instead.
  npm_config_yes: 'false',
  npm_config_prefer_offline: 'true',
};

/** Runs one README command line, split on spaces, in the clone. */
async function sh(line: string, timeoutMs = 60_000): Promise<RunResult & { line: string }> {
  const [cmd, ...args] = line.split(' ');
  return { line, ...(await runTool(cmd, args, { cwd: clone, env, timeoutMs })) };
}

/** Fails with the command's output when it did not exit 0. */
function expectOk(r: RunResult & { line: string }): void {
  if (r.code === 0) return;
  const how = r.timedOut ? 'timed out' : `exited ${r.code}`;
  throw new Error(`\`${r.line}\` ${how}:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
}

describe("the README's commands in a fresh clone", () => {
  beforeAll(() => freshClone(), 60_000);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('npm run demo installs, builds and diagnoses the synthetic study', async () => {
    const r = await sh('npm run demo', 270_000);
    expectOk(r);
    expect(r.stdout).toMatch(/^L4-L5: .* truth /m);
    expect(r.stdout).toMatch(/^L5-S1: .* truth /m);
  }, 300_000);

  it('the lumbar bin is linked at install time and says when the CLI is not built', async () => {
    expect(isSymlink(path.join(clone, 'node_modules', '.bin', 'lumbar'))).toBe(true);
    expect(statSync(path.join(clone, 'packages', 'cli', 'bin', 'lumbar.js')).mode & 0o111).toBe(0o111);
    rmSync(path.join(clone, 'packages', 'cli', 'dist'), { recursive: true, force: true });
    const r = await sh('npx lumbar --help');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/lumbar: the command is not built yet .*run `npm run build`/);
  });

  it('npm run build, then npx lumbar --help lists the subcommands', async () => {
    const build = await sh('npm run build', 180_000);
    expectOk(build);
    const r = await sh('npx lumbar --help');
    expectOk(r);
    expect(r.stdout).toMatch(/^Usage: lumbar \[options\] \[command\]/);
    for (const sub of ['analyze', 'evaluate', 'finetune', 'validate', 'phantom', 'serve', 'db', 'apikey'])
      expect(r.stdout).toMatch(new RegExp(`^  ${sub} `, 'm'));
  }, 200_000);

  it('npx lumbar phantom --help, then the phantom command as the README shows it', async () => {
    const help = await sh('npx lumbar phantom --help');
    expectOk(help);
    expect(help.stdout).toMatch(/^Usage: lumbar phantom \[options\]/);
    for (const opt of ['--out', '--dataset', '--studies', '--seed']) expect(help.stdout).toContain(opt);
    const out = path.join(work, 'phantom');
    const r = await sh(`npx lumbar phantom --out ${out} --studies 1 --seed 7`);
    expectOk(r);
    expect(existsSync(path.join(out, 'truth.json'))).toBe(true);
  });
});
