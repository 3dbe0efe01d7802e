#!/usr/bin/env node
/**
 * Writes a corpus of malformed DICOM Part 10 files, derived from the real samples
 * (../shared/data/dicom-samples) and from phantom instances, plus manifest.json saying how a sender would
 * put each one on the wire (C-STORE command UIDs, transfer syntax, where the data set starts) and the
 * status the receiver must answer. Deterministic: the same --seed gives the same bytes.
 *
 *   node scripts/make-malformed-corpus.js --out DIR [--seed 1] [--samples DIR] [--valid N]
 *
 * DIR/valid/ gets N well-formed phantom instances (distinct UIDs) to check that an association still works
 * after the malformed ones. Needs the build (npx tsc -b). Nothing written carries patient identity beyond
 * that of the public samples it is derived from; it is generated at test time and never committed.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { rng } = require('./seeded-rng');

const root = path.resolve(__dirname, '..');
const dicom = require(path.join(root, 'packages/dicom/dist'));
const phantom = require(path.join(root, 'packages/phantom/dist'));

const IMPLICIT = '1.2.840.10008.1.2';
const EXPLICIT = '1.2.840.10008.1.2.1';
const BIG_ENDIAN = '1.2.840.10008.1.2.2';
const MR = '1.2.840.10008.5.1.4.1.1.4';
const ENHANCED_MR = '1.2.840.10008.5.1.4.1.1.4.1';
const C000 = 'C000'; // cannot understand
const A900 = 'A900'; // data set does not match SOP class (UIDs differ from the command)

/** The real samples used (MR and Enhanced MR, every transfer syntax the receiver accepts, not the largest). */
const REAL = [
  'dcm_qa_ts/1.dcm',
  'dcm_qa_ts/2.dcm',
  'dcm_qa_ts/3.dcm',
  'dcm_qa_ts/4.dcm',
  'dcm_qa_ts/5.dcm',
  'dcm_qa_ts/6.dcm',
  'dcm_qa_ts/7.dcm',
  'dcm_qa_ts/8.dcm',
  'dcm_qa_ts/9.dcm',
  'dcm_qa_enh/Siemens_XA10_6_1.dcm',
  'pydicom-data/emri_small.dcm',
  'pydicom-data/emri_small_big_endian.dcm',
  'pydicom-data/emri_small_RLE.dcm',
  'pydicom-data/emri_small_jpeg_ls_lossless.dcm',
  'pydicom-data/emri_small_jpeg_2k_lossless.dcm',
];

function parseArgs(argv) {
  const args = { seed: '1', valid: 4, samples: null, out: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--out') args.out = next();
    else if (a === '--seed') args.seed = next();
    else if (a === '--samples') args.samples = next();
    else if (a === '--valid') args.valid = Number(next());
    else if (a === '--help' || a === '-h') args.help = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

function sharedSamples(dir) {
  const d = dir ?? process.env.LUMBAR_SHARED_DIR ?? path.resolve(root, '..', 'shared');
  const samples = dir ? d : path.join(d, 'data', 'dicom-samples');
  return fs.existsSync(samples) ? samples : null;
}

/** A few phantom MR instances (one mid slice of some series), rendered in-process. */
function phantomInstances(seed, count, tag) {
  const plan = phantom.planStudy(`malformed-${seed}`, 0);
  const out = [];
  for (let i = 0; out.length < count; i++) {
    const sp = plan.series[i % plan.series.length];
    const plane = sp.planes[Math.floor(i / plan.series.length) % sp.planes.length];
    const r = new phantom.Rng(`${plan.study.studyInstanceUid}/${sp.kind}/${i}`);
    const slice = phantom.renderSlice(plan.anatomy, plane, { ...sp.render, bias: [0, 0, 0] }, r);
    const ds = dicom.mrImageDataset(plan.study, sp.series, {
      sopInstanceUid: dicom.deterministicUid('lumbar-malformed', seed, tag, i),
      instanceNumber: i + 1,
      plane,
      pixels: slice.pixels,
      windowCenter: 500,
      windowWidth: 1000,
    });
    out.push({ name: `phantom-${tag}${i}`, buf: dicom.writePart10(ds) });
  }
  return out;
}

/** What a source file is: its meta, its syntax and its elements (it must be well-formed). */
function describe(name, buf) {
  const ds = dicom.readPart10(buf, name, { headerOnly: true });
  const elements = dicom.listElements(buf);
  const structure = dicom.checkPart10Structure(buf);
  const ts = structure.transferSyntaxUid;
  const top = elements.filter((e) => e.depth === 0 && e.vr !== 'item');
  const pixel = top.find((e) => e.tag === 0x7fe00010);
  // where the Pixel Data element ends (its fragments' delimiter for encapsulated data)
  const after = top.find((e) => e.offset > pixel.offset);
  const pixelEnd = after ? after.offset : buf.length;
  return {
    name,
    buf,
    ts,
    implicit: ts === IMPLICIT,
    bigEndian: ts === BIG_ENDIAN,
    sopClassUid: String(ds.SOPClassUID),
    sopInstanceUid: String(ds.SOPInstanceUID),
    dataSetOffset: structure.dataSetOffset,
    elements,
    top,
    pixel,
    pixelEnd,
  };
}

function writeLength(buf, e, value) {
  if (e.lengthBytes === 2) {
    if (e.bigEndian) buf.writeUInt16BE(value & 0xffff, e.lengthOffset);
    else buf.writeUInt16LE(value & 0xffff, e.lengthOffset);
  } else if (e.bigEndian) buf.writeUInt32BE(value >>> 0, e.lengthOffset);
  else buf.writeUInt32LE(value >>> 0, e.lengthOffset);
}

const u16 = (v) => {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return b;
};
const u32 = (v) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
};
const tagBytes = (g, e) => Buffer.concat([u16(g), u16(e)]);
const ITEM = (len) => Buffer.concat([tagBytes(0xfffe, 0xe000), u32(len)]);
const ITEM_END = Buffer.concat([tagBytes(0xfffe, 0xe00d), u32(0)]);
const SEQ_END = Buffer.concat([tagBytes(0xfffe, 0xe0dd), u32(0)]);

/** (0008,1140) Referenced Image Sequence nested `depth` deep, undefined or defined lengths, little endian. */
function nestedSequence(depth, implicit, defined) {
  const header = (len) =>
    implicit
      ? Buffer.concat([tagBytes(0x0008, 0x1140), u32(len)])
      : Buffer.concat([tagBytes(0x0008, 0x1140), Buffer.from('SQ\0\0', 'latin1'), u32(len)]);
  if (!defined) {
    const open = Buffer.concat([header(0xffffffff), ITEM(0xffffffff)]);
    const close = Buffer.concat([ITEM_END, SEQ_END]);
    return Buffer.concat([
      Buffer.alloc(open.length * depth, open),
      Buffer.alloc(close.length * depth, close),
    ]);
  }
  // defined lengths, outermost first: level k (from the inside) is a header, an item header and level k-1
  const level = header(0).length + 8;
  const out = Buffer.alloc(level * depth);
  for (let i = 0; i < depth; i++) {
    const inside = level * (depth - i - 1); // bytes of the levels within this one's item
    header(inside + 8).copy(out, i * level);
    ITEM(inside).copy(out, i * level + level - 8);
  }
  return out;
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.help || !args.out) {
    process.stdout.write(
      'usage: node scripts/make-malformed-corpus.js --out DIR [--seed S] [--samples DIR] [--valid N]\n',
    );
    process.exit(args.help ? 0 : 2);
  }
  const seed = String(args.seed);
  const R = rng(seed);
  const out = path.resolve(args.out);
  fs.mkdirSync(path.join(out, 'valid'), { recursive: true });

  const sources = [];
  const samples = sharedSamples(args.samples);
  if (samples) {
    for (const rel of REAL) {
      const p = path.join(samples, rel);
      if (fs.existsSync(p)) sources.push(describe(rel, fs.readFileSync(p)));
    }
  }
  for (const p of phantomInstances(seed, 3, 'src')) sources.push(describe(p.name, p.buf));

  const entries = [];
  let n = 0;
  const uidFor = (...parts) => dicom.deterministicUid('lumbar-malformed', seed, ...parts);
  /**
   * Adds one corpus file. `send` says how a sender puts it on the wire: by default, as a sender that reads
   * the file meta does (its UIDs and transfer syntax, the data set after it).
   */
  const add = (category, src, what, buf, send = {}, expect = C000) => {
    const file = `${String(n++).padStart(4, '0')}-${category}.dcm`;
    fs.writeFileSync(path.join(out, file), buf);
    entries.push({
      file,
      category,
      source: src ? src.name : null,
      what,
      bytes: buf.length,
      dimse: {
        sopClassUid: send.sopClassUid ?? src?.sopClassUid ?? MR,
        sopInstanceUid: send.sopInstanceUid ?? src?.sopInstanceUid ?? uidFor('cmd', n),
        transferSyntaxUid: send.transferSyntaxUid ?? src?.ts ?? EXPLICIT,
        dataSetOffset: send.dataSetOffset ?? src?.dataSetOffset ?? 0,
      },
      expect,
    });
  };
  /** A sender that cannot read the file meta sends the whole file as the data set. */
  const whole = (src, ts) => ({
    dataSetOffset: 0,
    transferSyntaxUid: ts ?? EXPLICIT,
    sopClassUid: src?.sopClassUid ?? MR,
    sopInstanceUid: src?.sopInstanceUid,
  });

  for (const src of sources) {
    const { buf } = src;
    // 1. truncated: in the preamble, the meta, the first elements, the last header elements, Pixel Data
    const lastHeader = src.top[src.top.indexOf(src.pixel) - 1];
    const cuts = new Set([
      R.int(1, 128),
      R.int(132, src.dataSetOffset),
      src.dataSetOffset, // meta only: an empty data set
      R.int(src.dataSetOffset + 1, src.dataSetOffset + 200),
      R.int(src.dataSetOffset + 200, src.pixel.offset),
      lastHeader.offset + 2, // inside an element header
      src.pixel.offset, // on an element boundary: everything but Pixel Data
      src.pixel.valueOffset, // Pixel Data header without its value
      R.int(src.pixel.valueOffset + 1, src.pixelEnd - 1),
      src.pixelEnd - 1,
    ]);
    for (const cut of cuts) {
      const t = buf.subarray(0, cut);
      // cut inside the preamble or meta: the sender cannot read it and sends what it has
      const send = cut < src.dataSetOffset ? whole(src) : {};
      add('truncated', src, `cut at byte ${cut} of ${buf.length}`, Buffer.from(t), send);
    }

    // 2. wrong VRs (explicit VR syntaxes)
    if (!src.implicit) {
      const vrAt = (tag) => src.top.find((e) => e.tag === tag);
      const setVr = (e, vr) => {
        const b = Buffer.from(buf);
        b.write(vr, e.offset + 4, 'latin1');
        return b;
      };
      const sop = vrAt(0x00080018);
      add('wrong-vr', src, 'SOP Instance UID as US', setVr(sop, 'US'));
      const rows = vrAt(0x00280010);
      add('wrong-vr', src, 'Rows as SS', setVr(rows, 'SS'));
      add('wrong-vr', src, 'Pixel Data as UT', setVr(src.pixel, 'UT'));
      const shortOnes = src.top.filter((e) => e.lengthBytes === 2 && e.offset < src.pixel.offset);
      const e1 = R.pick(shortOnes);
      add('wrong-vr', src, `${e1.tag.toString(16)} VR "ZZ"`, setVr(e1, 'ZZ'));
      const e2 = R.pick(shortOnes);
      add('wrong-vr', src, `${e2.tag.toString(16)} VR NUL NUL`, setVr(e2, '\0\0'));
      // a 2-byte-length VR turned into a 4-byte one: its value is read as a length
      const e3 = R.pick(shortOnes.filter((e) => e.length >= 4));
      if (e3) add('wrong-vr', src, `${e3.tag.toString(16)} ${e3.vr} as OB`, setVr(e3, 'OB'));
    }

    // 3. lengths past the end: of the file, of an item
    const plain = src.top.filter(
      (e) => e.offset < src.pixel.offset && e.vr !== 'SQ' && e.length !== 0xffffffff && e.length < 0xff00,
    );
    {
      const b = Buffer.from(buf);
      const e =
        src.pixel.length === 0xffffffff ? src.elements.filter((x) => x.vr === 'item').pop() : src.pixel;
      writeLength(b, e, buf.length - e.valueOffset + R.int(1, 4096));
      add('length-past-end', src, 'last value runs past the end of the file', b);
      const nested = src.elements.filter((x) => x.depth > 0 && x.vr !== 'item' && x.lengthBytes === 4);
      const nestedShort = src.elements.filter((x) => x.depth > 0 && x.vr !== 'item' && x.lengthBytes === 2);
      const inItem = R.pick(nested.length ? nested : nestedShort);
      if (inItem) {
        const b2 = Buffer.from(buf);
        writeLength(b2, inItem, inItem.length + R.int(9, 200));
        add('length-past-end', src, `element ${inItem.tag.toString(16)} runs past its item`, b2);
      }
      const mid = R.pick(plain);
      const b3 = Buffer.from(buf);
      // never onto the next element boundary: that would be a well-formed (if odd) data set
      const starts = new Set(src.top.map((x) => x.offset));
      let grown = mid.length + R.int(1, 64);
      while (starts.has(mid.valueOffset + grown)) grown++;
      writeLength(b3, mid, grown);
      add('length-past-end', src, `element ${mid.tag.toString(16)} longer than its value`, b3);
    }

    // 4. huge declared lengths
    for (const huge of [0x7fffffff, 0xfffffff0]) {
      const b = Buffer.from(buf);
      const e =
        src.pixel.length === 0xffffffff ? src.elements.filter((x) => x.vr === 'item').pop() : src.pixel;
      writeLength(b, e, huge);
      add('huge-length', src, `Pixel Data (or its last fragment) declares ${huge}`, b);
    }
    {
      const longOnes = src.top.filter(
        (e) => e.lengthBytes === 4 && e.vr !== 'SQ' && e.offset < src.pixel.offset && e.vr !== 'UN',
      );
      const e = longOnes.length ? R.pick(longOnes) : null;
      if (e) {
        const b = Buffer.from(buf);
        writeLength(b, e, 0xffffffff);
        add('huge-length', src, `${e.tag.toString(16)} (${e.vr}) with undefined length`, b);
      }
      const b2 = Buffer.from(buf);
      const sh = R.pick(plain);
      writeLength(b2, sh, 0xffff);
      add('huge-length', src, `${sh.tag.toString(16)} declares 65535`, b2);
    }

    // 5. SOP UIDs that contradict the C-STORE command (the data set itself is well-formed)
    add(
      'uid-mismatch',
      src,
      'command names another SOP Instance UID',
      Buffer.from(buf),
      {
        sopInstanceUid: uidFor('other-instance', src.name),
      },
      A900,
    );
    add(
      'uid-mismatch',
      src,
      'command names another SOP Class',
      Buffer.from(buf),
      {
        sopClassUid: src.sopClassUid === MR ? ENHANCED_MR : MR,
      },
      A900,
    );
    {
      // the data set's own SOP Instance UID differs from its file meta (which the sender uses)
      const sop = src.top.find((e) => e.tag === 0x00080018);
      const b = Buffer.from(buf);
      const pos = sop.valueOffset + sop.length - 3;
      const ch = b[pos] === 0x31 ? 0x32 : 0x31;
      b[pos] = ch;
      add('uid-mismatch', src, 'data set SOP Instance UID differs from the meta', b, {}, A900);
    }
  }

  // 6. deep sequence nesting, inserted where (0008,1140) belongs
  const nestSources = sources.filter((s) => !s.bigEndian).filter((_, i) => i % 4 === 0);
  for (const src of nestSources) {
    const at = src.top.find((e) => e.tag > 0x00081140).offset;
    for (const depth of [17, 200, 5000, 20000]) {
      for (const defined of [false, true]) {
        const seq = nestedSequence(depth, src.implicit, defined);
        const b = Buffer.concat([src.buf.subarray(0, at), seq, src.buf.subarray(at)]);
        add('deep-nesting', src, `${depth} levels, ${defined ? 'defined' : 'undefined'} lengths`, b);
      }
    }
  }

  // 7. missing or corrupt file meta information, empty transfer syntax
  for (const src of sources.filter((_, i) => i % 3 === 0)) {
    const { buf } = src;
    const meta = buf.subarray(132, src.dataSetOffset);
    const dataSet = buf.subarray(src.dataSetOffset);
    const noDicm = Buffer.from(buf);
    noDicm.write('DICX', 128, 'latin1');
    add('meta', src, 'no DICM magic', noDicm, whole(src));
    add('meta', src, 'preamble and DICM only', Buffer.from(buf.subarray(0, 132)), whole(src));
    add(
      'meta',
      src,
      'no file meta: DICM then the data set',
      Buffer.concat([buf.subarray(0, 132), dataSet]),
      whole(src, src.implicit ? EXPLICIT : IMPLICIT),
    );
    add(
      'meta',
      src,
      'no preamble, no meta: a bare data set in the other VR encoding',
      Buffer.from(dataSet),
      whole(src, src.implicit ? EXPLICIT : IMPLICIT),
    );
    const els = src.elements.filter((e) => e.offset < src.dataSetOffset);
    const tsEl = dicom.listElements(buf).find((e) => e.tag === 0x00020010);
    // empty Transfer Syntax UID (zero-length value); the sender falls back to implicit VR little endian
    const emptyTs = Buffer.concat([
      buf.subarray(0, tsEl.lengthOffset),
      u16(0),
      buf.subarray(tsEl.valueOffset + tsEl.length),
    ]);
    fixGroupLength(emptyTs, -tsEl.length);
    add('empty-ts', src, 'empty Transfer Syntax UID', emptyTs, {
      transferSyntaxUid: src.implicit ? EXPLICIT : IMPLICIT,
      dataSetOffset: src.dataSetOffset - tsEl.length,
    });
    const noTs = Buffer.concat([buf.subarray(0, tsEl.offset), buf.subarray(tsEl.valueOffset + tsEl.length)]);
    fixGroupLength(noTs, -(tsEl.valueOffset + tsEl.length - tsEl.offset));
    add('empty-ts', src, 'no Transfer Syntax UID element', noTs, {
      transferSyntaxUid: src.implicit ? EXPLICIT : IMPLICIT,
      dataSetOffset: src.dataSetOffset - (tsEl.valueOffset + tsEl.length - tsEl.offset),
    });
    // a meta element whose length runs into the data set: the sender sends everything
    const badMeta = Buffer.from(buf);
    const m = R.pick(els.filter((e) => e.lengthBytes === 2));
    writeLength(badMeta, m, m.length + R.int(200, 4000));
    add('meta', src, 'meta element length past the meta', badMeta, whole(src));
    void meta;
  }

  // 8. zero bytes and non-DICOM bytes
  add('zero', null, 'empty file', Buffer.alloc(0));
  add('zero', null, '4096 zero bytes', Buffer.alloc(4096));
  if (sources.length) {
    const src = sources[sources.length - 1];
    const zeroed = Buffer.concat([
      src.buf.subarray(0, src.dataSetOffset),
      Buffer.alloc(src.buf.length - src.dataSetOffset),
    ]);
    add('zero', src, 'valid meta, data set all zeros', zeroed);
  }
  add(
    'not-dicom',
    null,
    'PNG signature',
    Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), R.bytes(512)]),
  );
  add('not-dicom', null, 'text', Buffer.from('This is not a DICOM file.\n'.repeat(40)));
  add(
    'not-dicom',
    null,
    'JSON',
    Buffer.from(JSON.stringify({ PatientName: 'NOT DICOM', values: [1, 2, 3] })),
  );
  add('not-dicom', null, 'ZIP header', Buffer.concat([Buffer.from('504b0304', 'hex'), R.bytes(1020)]));
  for (const size of [1, 7, 131, 1000, 65536]) add('not-dicom', null, `${size} random bytes`, R.bytes(size));
  {
    const b = R.bytes(8192);
    b.write('DICM', 128, 'latin1');
    add('not-dicom', null, 'random bytes with DICM at 128', b);
  }

  // controls: well-formed instances, to show that an association still works after the malformed ones
  const valid = phantomInstances(seed, args.valid, 'valid').map((p, i) => {
    const file = `valid/${String(i).padStart(2, '0')}.dcm`;
    fs.writeFileSync(path.join(out, file), p.buf);
    const d = describe(p.name, p.buf);
    return {
      file,
      dimse: {
        sopClassUid: d.sopClassUid,
        sopInstanceUid: d.sopInstanceUid,
        transferSyntaxUid: d.ts,
        dataSetOffset: d.dataSetOffset,
      },
      expect: '0000',
    };
  });

  const manifest = { seed, generator: 'scripts/make-malformed-corpus.js', files: entries, valid };
  fs.writeFileSync(path.join(out, 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  const byCategory = {};
  for (const e of entries) byCategory[e.category] = (byCategory[e.category] ?? 0) + 1;
  process.stdout.write(
    `${JSON.stringify({ out, files: entries.length, valid: valid.length, sources: sources.length, byCategory })}\n`,
  );
}

/** Keeps (0002,0000) File Meta Information Group Length right after removing bytes from the meta. */
function fixGroupLength(buf, delta) {
  if (buf.readUInt16LE(132) === 0x0002 && buf.readUInt16LE(134) === 0x0000) {
    buf.writeUInt32LE(buf.readUInt32LE(140) + delta, 140);
  }
}

main();
