// Viewers read what we write (issue 18): OHIF and Cornerstone3D load a SEG and a TID 1500 SR through
// @cornerstonejs/adapters (5.14) and dcmjs. This test analyses a phantom study (the analysis built from its
// ground truth, as in dicom-outputs.test.ts, so the SEGs carry real disc masks whatever the models), writes the
// objects and reads them back with those packages as a viewer does, in a separate Node process
// (test/viewer/read_with_adapters.mjs: the adapters ship ES modules only, which Jest's CommonJS realm cannot load).
// No browser globals are needed: the loader and the report reader run in plain Node.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DISC_LEVELS, discLabel, type DiscLevel } from '@lumbar/core';
import { DISC_CODES, type SourceImage } from '@lumbar/dicom';
import {
  OUTLINE_TRACKING_ID,
  buildDicomOutputs,
  findingsDocument,
  readSourceImages,
  type DicomOutput,
} from '@lumbar/analysis';
import { makeTmpDir, removeDir } from '../helpers/files';
import { generatePhantom, studyDirs } from '../helpers/phantom';
import { phantomAnalysis, type PhantomTruth } from '../helpers/phantom-analysis';
import { runTool } from '../helpers/run';
import { repoRoot } from '../helpers/shared';

const READER = path.join(repoRoot, 'test', 'viewer', 'read_with_adapters.mjs');

const cross = (a: readonly number[], b: readonly number[]) => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];

type Code = [string, string, string];

/** What read_with_adapters.mjs prints. */
interface ViewerReadBack {
  segs: Array<{
    file: string;
    sopInstanceUid: string;
    referencedSeries: string;
    stack: number;
    stackOrientations: number;
    header: { segments: Array<[number, string]>; frames: Array<[number, string]> };
    error?: string;
    overlapping?: boolean;
    segmentSeries?: string;
    segments?: Array<{ number: number; label: string; description: string; type: Code; trackingUid: string }>;
    labelmap?: Record<string, Record<string, number>>;
    segmentsOnFrame?: Record<string, number[]>;
    centroids?: Record<string, { count: number }>;
  }>;
  sr: {
    sopInstanceUid: string;
    template: string;
    toolState?: Record<string, number>;
    toolStateError?: string;
    contours?: Array<{
      sopInstanceUid: string | null;
      closed: boolean;
      points: number;
      world: number[][];
      trackingUid: string | null;
      finding: Code | null;
      findingSites: Code[];
    }>;
    groups: Array<{
      trackingId: string;
      trackingUid: string;
      finding: Code | null;
      findingSites: Code[];
      segment: { sopInstanceUid: string; segmentNumber: number } | null;
      images: string[];
      numbers: number;
      scoords: number;
      adapter: string | null;
    }>;
  };
}

describe('viewers read what we write (@cornerstonejs/adapters 5.14, dcmjs)', () => {
  let tmp: string;
  let outputs: DicomOutput[];
  let findings: ReturnType<typeof findingsDocument>;
  let analysis: Awaited<ReturnType<typeof phantomAnalysis>>;
  let back: ViewerReadBack;
  let sources: SourceImage[];

  const doc = (file: string) => findings.dicom.find((d) => d.file === file)!;

  beforeAll(async () => {
    tmp = makeTmpDir('viewer-adapters');
    await generatePhantom(path.join(tmp, 'in'), 3);
    const [study] = studyDirs(path.join(tmp, 'in'));
    const truth: PhantomTruth = JSON.parse(readFileSync(path.join(tmp, 'in', 'truth.json'), 'utf8'))
      .studies[0];
    analysis = await phantomAnalysis(study, truth);
    sources = await readSourceImages(analysis.sourceFiles);
    const built = await buildDicomOutputs(analysis.result, sources, {
      createdAt: new Date('2026-01-02T03:04:05Z'),
    });
    expect(built.warnings).toEqual([]);
    outputs = built.outputs;
    const out = path.join(tmp, 'out');
    mkdirSync(out);
    for (const o of outputs) writeFileSync(path.join(out, o.file), o.bytes);
    findings = findingsDocument(analysis.result, analysis.series, [], outputs);
    const spec = path.join(tmp, 'spec.json');
    writeFileSync(
      spec,
      JSON.stringify({
        sources: analysis.sourceFiles,
        segs: ['seg-sagittal.dcm', 'seg-axial.dcm'].map((f) => path.join(out, f)),
        sr: path.join(out, 'sr.dcm'),
      }),
    );
    const run = await runTool(process.execPath, [READER, spec], { cwd: repoRoot, timeoutMs: 120_000 });
    if (run.code !== 0) throw new Error(`${READER} exited ${run.code}:\n${run.stderr}`);
    back = JSON.parse(run.stdout);
  });
  afterAll(() => removeDir(tmp));

  it('the sagittal SEG loads as a Cornerstone3D labelmap: one segment per level, on the right source image', () => {
    const [sag] = back.segs;
    const sagDoc = doc('seg-sagittal.dcm');
    expect(sag.error).toBeUndefined();
    expect(sag.sopInstanceUid).toBe(sagDoc.sopInstanceUid);
    expect(sag.referencedSeries).toBe(analysis.series.sagittal);
    expect(sag.segmentSeries).toBe(analysis.series.sagittal);
    expect(sag.overlapping).toBe(false);
    // segment metadata, as the viewer lists it: number, label, description, type code, tracking UID
    expect(sag.segments!.map((s) => [s.number, s.label])).toEqual(
      sagDoc.segments!.map((s) => [s.segmentNumber, `${s.level} disc`]),
    );
    const sr = doc('sr.dcm');
    for (const s of sag.segments!) {
      const level = s.label.replace(' disc', '') as DiscLevel;
      expect(s.type).toEqual([DISC_CODES[level].value, 'SCT', DISC_CODES[level].meaning]);
      expect(s.description).toMatch(new RegExp(`^${level} intervertebral disc on the sagittal T2 images`));
      expect(s.description).toMatch(/not for primary diagnosis/i);
      const group = sr.levels!.find((l) => l.level === level);
      if (group) expect(s.trackingUid).toBe(group.trackingUid);
    }
    // the labelmap: every segment on the mid-sagittal slice the masks came from, pixel for pixel
    const mask = analysis.result.masks.find((m) => m.view === 'sagittal')!;
    expect(Object.keys(sag.labelmap!)).toEqual([mask.sopInstanceUid]);
    expect(sag.segmentsOnFrame).toEqual({ [mask.sopInstanceUid]: sag.segments!.map((s) => s.number) });
    const expected = Object.fromEntries(
      sagDoc.segments!.map((s) => [
        String(s.segmentNumber),
        mask.levels.all!.data.reduce((n, v) => n + (v === discLabel(s.level) ? 1 : 0), 0),
      ]),
    );
    expect(sag.labelmap![mask.sopInstanceUid]).toEqual(expected);
    for (const s of sag.segments!) expect(sag.centroids![s.number].count).toBe(expected[s.number]);
  });

  it('the axial SEG: dcmjs reads its segments and frame references; the labelmap loader refuses tilted blocks', () => {
    const ax = back.segs[1];
    const axDoc = doc('seg-axial.dcm');
    expect(ax.sopInstanceUid).toBe(axDoc.sopInstanceUid);
    expect(ax.referencedSeries).toBe(analysis.series.axial);
    expect(ax.header.segments).toEqual(axDoc.segments!.map((s) => [s.segmentNumber, `${s.level} disc`]));
    // each frame: the level's segment, on an axial slice the analysis assigned to that level
    const evidence = (level: string) =>
      analysis.result.levels.find((l) => l.level === level)!.evidence.axial.map((a) => a.sopInstanceUid);
    expect(ax.header.frames.length).toBeGreaterThan(0);
    for (const [segment, source] of ax.header.frames) {
      const level = axDoc.segments!.find((s) => s.segmentNumber === segment)!.level;
      expect(evidence(level)).toContain(source);
    }
    // Cornerstone3D 5.14 maps a SEG onto one stack with the orientation of its first image; the phantom's axial
    // series, as a lumbar protocol's, is blocks tilted to each disc, so the loader stops (docs/DICOM-OUTPUTS.md).
    expect(ax.stackOrientations).toBeGreaterThan(1);
    expect(ax.error).toMatch(
      /Segmentations oblique to the acquisition plane of the source data are not yet supported/,
    );
  });

  it('the SR: the adapters accept the TID 1500 document; its groups, finding sites and references come out', () => {
    const { sr } = back;
    const srDoc = doc('sr.dcm');
    expect(sr.sopInstanceUid).toBe(srDoc.sopInstanceUid);
    expect(sr.template).toBe('1500');
    // generateToolState reads the document without error. Only the disc outlines (TID 1410, tracking identifier
    // "Cornerstone3DTools@^0.1.0:PlanarFreehandROI...") become annotations: the level and grading groups carry
    // numbers and a segment, no SCOORD, which is what the adapters need.
    expect(sr.toolStateError).toBeUndefined();
    expect(sr.toolState).toEqual({ PlanarFreehandROI: analysis.result.discs.length });
    const levelGroups = sr.groups.filter(
      (g) => g.finding?.[0] !== 'DISC-GRADING' && !g.trackingId.startsWith(OUTLINE_TRACKING_ID),
    );
    expect(levelGroups.map((g) => g.trackingId)).toEqual(findings.levels.map((l) => `${l.level} disc`));
    for (const [i, level] of findings.levels.entries()) {
      const g = levelGroups[i];
      const cited = srDoc.levels![i];
      expect(g.trackingUid).toBe(cited.trackingUid);
      expect(g.findingSites).toEqual([
        [DISC_CODES[level.level].value, 'SCT', DISC_CODES[level.level].meaning],
      ]);
      expect(g.finding).not.toBeNull();
      expect(g.scoords).toBe(0);
      expect(g.numbers).toBeGreaterThan(0);
      expect(g.adapter === null || g.adapter.startsWith('error:')).toBe(true);
      // the segment it cites (the axial SEG's), and every source image its measurements came from
      expect(g.segment).toEqual({
        sopInstanceUid: doc(cited.segment!.file).sopInstanceUid,
        segmentNumber: cited.segment!.segmentNumber,
      });
      const lf = analysis.result.levels.find((l) => l.level === level.level)!;
      for (const uid of [
        ...lf.evidence.axial.map((a) => a.sopInstanceUid),
        lf.evidence.sagittal!.sopInstanceUid,
      ]) {
        expect(g.images).toContain(uid);
      }
    }
  });

  it('the SR: a viewer draws each disc found on the sagittal slice as a closed outline on that slice', () => {
    const { sr } = back;
    const sagittalSop = analysis.result.masks.find((m) => m.view === 'sagittal')!.sopInstanceUid;
    const plane = sources.find((x) => x.sopInstanceUid === sagittalSop)!.planes[0]!;
    const normal = cross(plane.row, plane.col);
    const segmentUid = (level: DiscLevel) =>
      back.segs[0].segments!.find((x) => x.label === `${level} disc`)!.trackingUid;
    const outlines = sr.groups.filter((g) => g.trackingId.startsWith(OUTLINE_TRACKING_ID));
    expect(outlines.map((g) => g.trackingId)).toEqual(
      DISC_LEVELS.filter((l) => analysis.result.discs.some((d) => d.level === l)).map(
        (l) => `${OUTLINE_TRACKING_ID}:${l} disc outline`,
      ),
    );
    for (const g of outlines) expect(g.numbers).toBe(1); // the area, inferred from the outline (SCOORD)
    expect(sr.contours).toHaveLength(analysis.result.discs.length);
    for (const [i, c] of sr.contours!.entries()) {
      const level = outlines[i].trackingId.split(':').pop()!.replace(' disc outline', '') as DiscLevel;
      expect(c.sopInstanceUid).toBe(sagittalSop);
      expect(c.closed).toBe(true);
      expect(c.points).toBeGreaterThanOrEqual(4);
      expect(c.findingSites).toEqual([[DISC_CODES[level].value, 'SCT', DISC_CODES[level].meaning]]);
      // the same tracked disc as the sagittal SEG's segment of that level
      expect(c.trackingUid).toBe(segmentUid(level));
      // every point lies in the sagittal slice's plane (world mm)
      for (const p of c.world) {
        const d = [0, 1, 2].map((k) => p[k] - plane.position[k]);
        expect(Math.abs(d[0] * normal[0] + d[1] * normal[1] + d[2] * normal[2])).toBeLessThan(0.01);
      }
    }
  });
});
