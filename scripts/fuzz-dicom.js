#!/usr/bin/env node
/**
 * Bounded, seeded fuzzing of the DICOM read and decode path (packages/dicom: checkPart10Structure,
 * readPart10 with and without headerOnly, pixelDataProblem, decodeFrames and its frame decoders), and of the
 * receiver's lean read (readIndexFields), which must reach the same verdict as the dcmjs header-only read:
 * the same row fields, or both refusing the file.
 * Mutates the real samples (bit flips, byte insertions and deletions, length and VR field tampering,
 * truncation, chunk duplication) and runs each input in a child process with a per-input watchdog.
 *
 *   node scripts/fuzz-dicom.js --seconds 300 --seed 1 [--samples DIR] [--fixtures test/fixtures/fuzz]
 *                              [--findings DIR] [--timeout-ms 5000] [--max-fixture-bytes 131072]
 *
 * Pass: no input makes the code throw anything but a LumbarError (InputError), crash the process or take
 * longer than --timeout-ms. Each failing input is written to --findings (default: a temp folder) and, when
 * small enough, to --fixtures as a regression fixture (packages/dicom/src/fuzz-fixtures.test.ts replays
 * them). Prints one JSON line of counts at the end; exit code 1 when something was found. Needs the build.
 */
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { rng } = require('./seeded-rng');
const crypto = require('node:crypto');
const { fork } = require('node:child_process');

const root = path.resolve(__dirname, '..');

// ---------------------------------------------------------------------------------------------------------
// child: runs one input at a time

async function child() {
  const dicom = require(path.join(root, 'packages/dicom/dist'));
  const { LumbarError } = require(path.join(root, 'packages/core/dist'));
  process.on('message', async (msg) => {
    const buf = Buffer.from(msg.buf);
    const problems = [];
    const t0 = performance.now();
    let outcome = 'typed';
    // the structural walk alone: only its own StructureError may come out
    if (buf.length >= 132 && buf.toString('latin1', 128, 132) === 'DICM') {
      try {
        dicom.checkPart10Structure(buf);
      } catch (err) {
        if (!(err instanceof dicom.StructureError)) problems.push(`checkPart10Structure: ${describe(err)}`);
      }
    }
    // What the receiver would do with the input by either read: store a row with these fields, or refuse it
    // (0xC000) for this reason (indexUids: its UIDs, then whole Pixel Data).
    const verdict = (read) => {
      const fields = read();
      try {
        dicom.indexUids(fields);
      } catch (err) {
        return { refused: err.message };
      }
      return { fields };
    };
    let viaDcmjs = { refused: 'error' };
    try {
      const head = dicom.readPart10(buf, 'fuzz', { headerOnly: true });
      viaDcmjs = verdict(() => dicom.indexFieldsOf(head));
    } catch (err) {
      if (!(err instanceof LumbarError)) problems.push(`readPart10 headerOnly: ${describe(err)}`);
    }
    let lean = { refused: 'error' };
    try {
      lean = verdict(() => dicom.readIndexFields(buf, 'fuzz'));
    } catch (err) {
      if (!(err instanceof LumbarError)) problems.push(`readIndexFields: ${describe(err)}`);
    }
    // Where both would store it, the fields are the same, but for those dcmjs lost (null: it stopped reading
    // after a non-key attribute with a wrong VR). Where only dcmjs would, the lean read refused a UID with
    // characters a UID cannot have (dcmjs drops them and files the instance under another UID); where only
    // the lean read would, dcmjs failed on, or lost the elements after, a non-key attribute with a wrong VR or
    // value, which the structure walk read through (DCMTK and Orthanc store such files too). Any other
    // disagreement is a finding.
    let agreement = 'same';
    if (lean.fields && viaDcmjs.fields) {
      for (const [k, v] of Object.entries(lean.fields)) {
        const theirs = viaDcmjs.fields[k];
        if (v === theirs) continue;
        if (theirs === null) agreement = 'dcmjsLost';
        else
          problems.push(
            `disagreement: readIndexFields ${k} ${JSON.stringify(v)}, dcmjs ${JSON.stringify(theirs)}`,
          );
      }
    } else if (viaDcmjs.fields) {
      agreement = 'dcmjsOnly';
      if (!/is not a valid UID/.test(lean.refused))
        problems.push(`disagreement: readIndexFields refused (${lean.refused.slice(0, 200)}), dcmjs stored`);
    } else if (lean.fields) agreement = 'leanOnly';
    try {
      const ds = dicom.readPart10(buf, 'fuzz');
      await dicom.decodeFrames(ds, 'fuzz');
      outcome = 'decoded';
    } catch (err) {
      if (!(err instanceof LumbarError)) problems.push(`readPart10/decodeFrames: ${describe(err)}`);
    }
    process.send({ id: msg.id, outcome, agreement, problems, ms: performance.now() - t0 });
  });
  process.send({ ready: true });
}

function describe(err) {
  if (err instanceof Error) return `${err.constructor.name}: ${err.message.slice(0, 300)}`;
  return `${typeof err}: ${String(err).slice(0, 300)}`;
}

// ---------------------------------------------------------------------------------------------------------
// parent: generates inputs, watches the child

function parseArgs(argv) {
  const args = {
    seconds: 60,
    seed: '1',
    samples: null,
    fixtures: path.join(root, 'test', 'fixtures', 'fuzz'),
    findings: null,
    timeoutMs: 5000,
    maxFixtureBytes: 131072,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--seconds') args.seconds = Number(next());
    else if (a === '--seed') args.seed = next();
    else if (a === '--samples') args.samples = next();
    else if (a === '--fixtures') args.fixtures = next();
    else if (a === '--findings') args.findings = next();
    else if (a === '--timeout-ms') args.timeoutMs = Number(next());
    else if (a === '--max-fixture-bytes') args.maxFixtureBytes = Number(next());
    else if (a === '--help' || a === '-h') args.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

function listSamples(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.dcm')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

const LENGTHS = [0, 1, 2, 3, 0xfffe, 0xffff, 0x7fffffff, 0xfffffff0, 0xfffffffe, 0xffffffff];
const VRS = ['SQ', 'UN', 'OB', 'OW', 'UT', 'US', 'UL', 'UI', 'CS', 'AT', 'FD', 'ZZ', '\0\0', '  '];

/** One mutation of `buf` (a Buffer); `elements` are the original's element headers (listElements). */
function mutate(R, buf, elements) {
  const kind = R.pick([
    'flip',
    'flip',
    'byte',
    'insert',
    'delete',
    'length',
    'length',
    'vr',
    'truncate',
    'dup',
  ]);
  // half the time aim at the header (the first 4 KiB or the first elements), where parsing decides most
  const pos = () => (R.next() < 0.5 ? R.int(0, Math.min(buf.length, 4096)) : R.int(0, buf.length));
  switch (kind) {
    case 'flip': {
      const b = Buffer.from(buf);
      for (let k = R.int(1, 9); k > 0; k--) {
        const p = pos();
        b[p] ^= 1 << R.int(0, 8);
      }
      return { kind, buf: b };
    }
    case 'byte': {
      const b = Buffer.from(buf);
      for (let k = R.int(1, 5); k > 0; k--) b[pos()] = R.pick([0, 0xff, 0x7f, 0x80, R.int(0, 256)]);
      return { kind, buf: b };
    }
    case 'insert': {
      const p = pos();
      const ins = Buffer.from(Array.from({ length: R.int(1, 17) }, () => R.int(0, 256)));
      return { kind, buf: Buffer.concat([buf.subarray(0, p), ins, buf.subarray(p)]) };
    }
    case 'delete': {
      const p = pos();
      return { kind, buf: Buffer.concat([buf.subarray(0, p), buf.subarray(p + R.int(1, 17))]) };
    }
    case 'length': {
      const e = R.pick(elements);
      if (!e) return { kind, buf };
      const b = Buffer.from(buf);
      const choice = R.next();
      let v;
      if (choice < 0.4) v = R.pick(LENGTHS);
      else if (choice < 0.8) v = e.length + R.int(-8, 9);
      else v = R.int(0, 2 ** 32);
      if (e.lengthOffset + e.lengthBytes > b.length) return { kind, buf };
      if (e.lengthBytes === 2) {
        if (e.bigEndian) b.writeUInt16BE(v & 0xffff, e.lengthOffset);
        else b.writeUInt16LE(v & 0xffff, e.lengthOffset);
      } else if (e.bigEndian) b.writeUInt32BE(v >>> 0, e.lengthOffset);
      else b.writeUInt32LE(v >>> 0, e.lengthOffset);
      return { kind, buf: b };
    }
    case 'vr': {
      const e = R.pick(elements.filter((x) => x.vr.length === 2 && x.vr !== 'SQ'));
      if (!e || e.offset + 6 > buf.length) return { kind, buf };
      const b = Buffer.from(buf);
      b.write(R.pick(VRS), e.offset + 4, 'latin1');
      return { kind, buf: b };
    }
    case 'truncate':
      return { kind, buf: Buffer.from(buf.subarray(0, pos())) };
    default: {
      // duplicate a chunk (sequences and items repeated, a header twice)
      const p = pos();
      const n = R.int(1, 513);
      return {
        kind,
        buf: Buffer.concat([buf.subarray(0, p + n), buf.subarray(p, p + n), buf.subarray(p + n)]),
      };
    }
  }
}

async function parent(args) {
  const dicom = require(path.join(root, 'packages/dicom/dist'));
  const samplesDir =
    args.samples ??
    path.join(process.env.LUMBAR_SHARED_DIR ?? path.resolve(root, '..', 'shared'), 'data', 'dicom-samples');
  const files = listSamples(samplesDir);
  if (files.length === 0) throw new Error(`no .dcm files under ${samplesDir}`);
  const sources = files.map((f) => {
    const buf = fs.readFileSync(f);
    return { name: path.relative(samplesDir, f), buf, elements: dicom.listElements(buf) };
  });
  const findingsDir = args.findings ?? fs.mkdtempSync(path.join(os.tmpdir(), 'lumbar-fuzz-'));
  fs.mkdirSync(findingsDir, { recursive: true });
  const R = rng(String(args.seed));

  let worker = null;
  let pending = null;
  const start = () =>
    new Promise((resolve) => {
      const w = fork(__filename, ['--child'], {
        serialization: 'advanced',
        execArgv: ['--max-old-space-size=2048'],
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
      worker = w;
      w.stderr.on('data', () => undefined);
      w.on('message', (m) => {
        if (m.ready) return resolve();
        if (pending && m.id === pending.id) pending.resolve(m);
      });
      w.on('exit', (code, signal) => {
        if (worker === w) worker = null;
        if (pending) pending.resolve({ crashed: `child exited (code ${code}, signal ${signal})` });
      });
    });
  const run = (id, buf) =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        pending = null;
        const w = worker;
        worker = null;
        w.kill('SIGKILL');
        resolve({ hung: true });
      }, args.timeoutMs);
      pending = {
        id,
        resolve: (m) => {
          clearTimeout(timer);
          pending = null;
          resolve(m);
        },
      };
      worker.send({ id, buf });
    });

  const counts = {
    inputs: 0,
    typed: 0,
    decoded: 0,
    failing: 0,
    restarts: 0,
    storedByLeanReadOnly: 0,
    storedByDcmjsOnly: 0,
    fieldsDcmjsLost: 0,
    byKind: {},
  };
  const findings = [];
  let slowest = { ms: 0 };
  const deadline = Date.now() + args.seconds * 1000;
  await start();
  while (Date.now() < deadline) {
    const src = R.pick(sources);
    let input = { kind: '', buf: src.buf };
    const kinds = [];
    for (let k = R.int(1, 4); k > 0; k--) {
      input = mutate(R, input.buf, src.elements);
      kinds.push(input.kind);
    }
    const id = counts.inputs++;
    const kind = kinds.join('+');
    counts.byKind[kinds[0]] = (counts.byKind[kinds[0]] ?? 0) + 1;
    const r = await run(id, input.buf);
    let problem = null;
    if (r.hung) problem = `took over ${args.timeoutMs} ms`;
    else if (r.crashed) problem = r.crashed;
    else if (r.problems.length) problem = r.problems.join('; ');
    else {
      counts[r.outcome]++;
      if (r.agreement === 'leanOnly') counts.storedByLeanReadOnly++;
      if (r.agreement === 'dcmjsOnly') counts.storedByDcmjsOnly++;
      if (r.agreement === 'dcmjsLost') counts.fieldsDcmjsLost++;
      if (r.ms > slowest.ms) slowest = { ms: Math.round(r.ms), source: src.name, kind };
    }
    if (problem) {
      counts.failing++;
      const sha = crypto.createHash('sha256').update(input.buf).digest('hex').slice(0, 12);
      const name = `${path.basename(src.name, '.dcm')}-${kinds[0]}-${sha}.dcm`;
      fs.writeFileSync(path.join(findingsDir, name), input.buf);
      let fixture = null;
      // A disagreement between the receiver's read and dcmjs is not a file every reader must refuse (what
      // fuzz-fixtures.test.ts replays): it stays in the findings, for a case in index-fields.test.ts.
      const disagreementOnly = !r.hung && !r.crashed && r.problems.every((p) => p.startsWith('disagreement'));
      if (input.buf.length <= args.maxFixtureBytes && !disagreementOnly) {
        fs.mkdirSync(args.fixtures, { recursive: true });
        fixture = path.join(args.fixtures, name);
        fs.writeFileSync(fixture, input.buf);
      }
      findings.push({
        input: id,
        source: src.name,
        mutations: kind,
        bytes: input.buf.length,
        problem,
        fixture,
      });
      process.stderr.write(`finding ${name}: ${problem}\n`);
    }
    if (!worker) {
      counts.restarts++;
      await start();
    }
  }
  worker?.kill();
  const summary = {
    seed: args.seed,
    seconds: args.seconds,
    samples: sources.length,
    ...counts,
    slowestMs: slowest,
    findingsDir,
    findings,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return counts.failing === 0 ? 0 : 1;
}

if (process.argv.includes('--child')) {
  child();
} else {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write(
      'usage: node scripts/fuzz-dicom.js --seconds N --seed S [--samples DIR] [--fixtures DIR] [--findings DIR] ' +
        '[--timeout-ms MS] [--max-fixture-bytes N]\n',
    );
    process.exit(0);
  }
  parent(args).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`${err.stack ?? err}\n`);
      process.exit(2);
    },
  );
}
