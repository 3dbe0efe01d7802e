// The DICOM outputs (SEG per source series, TID 1500 SR, secondary capture key images) against real peers:
// dicom3tools' dciodvfy, DCMTK's dsrdump, highdicom (PyPI) and Orthanc by C-STORE. The analysis is built by
// hand from a phantom study's ground truth, so that the SEGs carry real disc masks whatever the models.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DISC_LEVELS, type DiscLevel } from '@lumbar/core';
import { DISC_CODES, diagnosisCodes, type DiagnosisName } from '@lumbar/dicom';
import type { AnalysisResult } from '@lumbar/pipeline';
import {
  OUTLINE_TRACKING_ID,
  buildDicomOutputs,
  findingsDocument,
  readSourceImages,
  type DicomOutput,
} from '@lumbar/analysis';
import { STATUS_SUCCESS, dciodvfy, dsrdump, storescu } from '../helpers/dcmtk';
import { findFiles, makeTmpDir, removeDir } from '../helpers/files';
import { useOrthanc } from '../helpers/orthanc';
import { cliMain, generatePhantom, studyDirs } from '../helpers/phantom';
import { phantomAnalysis, type PhantomTruth } from '../helpers/phantom-analysis';
import { runTool } from '../helpers/run';
import { repoRoot } from '../helpers/shared';

const PYTHON = path.join(repoRoot, 'training', '.venv', 'bin', 'python');
const READER = path.join(repoRoot, 'test', 'python', 'read_outputs.py');
const CREATED = new Date('2026-01-02T03:04:05Z');

/** dciodvfy warnings we accept, each explained in docs/DICOM-OUTPUTS.md. */
const ACCEPTED_WARNINGS = [
  /Unrecognized defined term <99LUMBAR> for value 1 of attribute <Coding Scheme Designator>/,
];

type Code = [string, string, string];

const GRADER = { name: 'sag-grading', version: 'test' };

/** The sagittal grader's output on every disc of the mid-sagittal slice, by hand (the grader is not run). */
function gradings(result: AnalysisResult, slice: string): AnalysisResult['gradings'] {
  return result.discs.map((d, i) => {
    const grade = ((i % 5) + 1) as 1 | 2 | 3 | 4 | 5;
    const distribution = [0.05, 0.05, 0.05, 0.05, 0.05] as [number, number, number, number, number];
    distribution[grade - 1] = 0.8;
    return {
      level: d.level,
      model: GRADER,
      sopInstanceUid: slice,
      fromBottom: DISC_LEVELS.length - DISC_LEVELS.indexOf(d.level),
      herniation: d.level === 'L5-S1' ? 0.9 : 0.1,
      bulging: d.level === 'L4-L5' ? 0.7 : 0.2,
      narrowing: 0.05 * (i + 1),
      modic: 0.11,
      endplate: 0.12,
      spondylolisthesis: 0.13,
      pfirrmann: { grade, distribution },
      flags: { herniation: d.level === 'L5-S1', bulging: d.level === 'L4-L5', narrowing: false },
    };
  });
}
interface ReadBack {
  segs: Array<{
    file: string;
    sopInstanceUid: string;
    studyInstanceUid: string;
    frameOfReferenceUid: string;
    segments: Array<{
      number: number;
      label: string;
      type: Code;
      category: Code;
      algorithmType: string;
      trackingUid: string;
    }>;
    sourceInstances: string[];
  }>;
  srs: Array<{
    sopInstanceUid: string;
    studyInstanceUid: string;
    title: Code;
    observers: string[];
    groups: Array<{
      template: string;
      trackingId: string;
      trackingUid: string;
      finding: Code;
      findingSites: Code[];
      evaluations: Array<[Code, Code]>;
      measurements: Array<{ name: Code; value: number; unit: Code; method: Code | null; sources: number }>;
      algorithm: { name: string; version: string } | null;
      comments: string[];
      segment: { sopInstanceUid: string; segmentNumber: number; sourceImages: number } | null;
    }>;
    texts: Record<string, string>;
  }>;
  others: Array<{
    sopClassUid: string;
    studyInstanceUid: string;
    modality: string;
    shape: number[];
    comments: string;
  }>;
}

describe('DICOM outputs of a phantom study (seed 3: L4-L5 bulge, L5-S1 right herniation)', () => {
  const orthanc = useOrthanc({ aet: 'OUTPUTS_PACS' });
  let tmp: string;
  let study: string;
  let out: string;
  let outputs: DicomOutput[];
  let findings: ReturnType<typeof findingsDocument>;
  let truth: PhantomTruth;
  let analysis: Awaited<ReturnType<typeof phantomAnalysis>>;

  const build = async (createdAt: Date) =>
    buildDicomOutputs(analysis.result, await readSourceImages(analysis.sourceFiles), { createdAt });

  beforeAll(async () => {
    tmp = makeTmpDir('dicom-outputs');
    await generatePhantom(path.join(tmp, 'in'), 3);
    [study] = studyDirs(path.join(tmp, 'in'));
    truth = JSON.parse(readFileSync(path.join(tmp, 'in', 'truth.json'), 'utf8')).studies[0];
    analysis = await phantomAnalysis(study, truth);
    analysis.result.gradings = gradings(analysis.result, analysis.result.masks[0].sopInstanceUid);
    const built = await build(CREATED);
    expect(built.warnings).toEqual([]);
    outputs = built.outputs;
    out = path.join(tmp, 'out');
    mkdirSync(out);
    for (const o of outputs) writeFileSync(path.join(out, o.file), o.bytes);
    findings = findingsDocument(analysis.result, analysis.series, [], outputs);
    writeFileSync(path.join(out, 'findings.json'), JSON.stringify(findings, null, 2));
  });
  afterAll(() => removeDir(tmp));

  it('writes a SEG per source series, one SR and a key image per key image', () => {
    expect(outputs.map((o) => o.file)).toEqual([
      'seg-sagittal.dcm',
      'seg-axial.dcm',
      'sr.dcm',
      'key-image-1.dcm',
      'key-image-2.dcm',
      'key-image-3.dcm',
    ]);
    const [sag, ax] = outputs;
    expect(sag.segments!.map((s) => s.level)).toEqual([
      'T12-L1',
      'L1-L2',
      'L2-L3',
      'L3-L4',
      'L4-L5',
      'L5-S1',
    ]);
    expect(ax.segments).toEqual([
      { segmentNumber: 1, level: 'L4-L5' },
      { segmentNumber: 2, level: 'L5-S1' },
    ]);
  });

  it('passes dciodvfy with zero errors; the only warnings are the documented ones', async () => {
    for (const o of outputs) {
      const v = await dciodvfy(path.join(out, o.file));
      expect({ file: o.file, errors: v.errors }).toEqual({ file: o.file, errors: [] });
      const unexplained = v.warnings.filter((w) => !ACCEPTED_WARNINGS.some((re) => re.test(w)));
      expect({ file: o.file, warnings: unexplained }).toEqual({ file: o.file, warnings: [] });
    }
  });

  it('dsrdump renders the SR: title, observer, both levels, the findings and the disclaimer', async () => {
    const text = await dsrdump(path.join(out, 'sr.dcm'), ['+Pc', '+Pl', '+Pt']);
    expect(text).toMatch(/Comprehensive SR Document/);
    expect(text).toMatch(/CONTAINER:\(126000,DCM,"Imaging Measurement Report"\)/);
    expect(text).toMatch(/"Device Observer Name"\)="lumbar-ai"/);
    expect(text).toMatch(/"Tracking Identifier"\)="L4-L5 disc"/);
    expect(text).toMatch(/"Tracking Identifier"\)="L5-S1 disc"/);
    expect(text).toMatch(/\(DISC-BULGE,99LUMBAR,"Disc bulge"\)/);
    expect(text).toMatch(/\(73589001,SCT,"Herniation of intervertebral disc"\)/);
    expect(text).toMatch(/\(272741003,SCT,"Laterality"\)=\(24028007,SCT,"Right"\)/);
    expect(text).toMatch(/Referenced Segment"\)=\(SG image,,\d\)/);
    expect(text).toMatch(/not for primary diagnosis/i);
    // the sagittal grader's groups: degeneration grade with its method, the model, present/absent
    expect(text).toMatch(/\(DISC-GRADING,99LUMBAR,"Intervertebral disc grading, sagittal grader"\)/);
    expect(text).toMatch(
      /\(77547008,SCT,"Degeneration of intervertebral disc"\)="3" \(\{grade\},UCUM,"grade"\)/,
    );
    expect(text).toMatch(
      /\(370129005,SCT,"Measurement Method"\)=\(PFIRRMANN,99LUMBAR,"Pfirrmann grading system"\)/,
    );
    expect(text).toMatch(/"Algorithm Name"\)="sag-grading"/);
    expect(text).toMatch(
      /\(DISC-NARROWING,99LUMBAR,"Narrowing of intervertebral disc space"\)=\(272519000,SCT,"Absent"\)/,
    );
  });

  it('highdicom reads the same levels, findings and segment numbers as findings.json', async () => {
    const files = findings.dicom.map((d) => path.join(out, d.file));
    const run = await runTool(PYTHON, [READER, ...files], { timeoutMs: 120_000 });
    expect(run.stderr).toBe('');
    const back: ReadBack = JSON.parse(run.stdout);
    const studyUid = analysis.result.studyInstanceUid;

    // SEGs: segment numbers, levels and codes as findings.json lists them, on the source study and frames
    const segDocs = findings.dicom.filter((d) => d.kind === 'seg');
    expect(back.segs.map((s) => s.sopInstanceUid)).toEqual(segDocs.map((d) => d.sopInstanceUid));
    back.segs.forEach((s, i) => {
      expect(s.studyInstanceUid).toBe(studyUid);
      expect(s.segments.map((x) => [x.number, x.label])).toEqual(
        segDocs[i].segments!.map((x) => [x.segmentNumber, `${x.level} disc`]),
      );
      for (const x of s.segments) {
        const level = x.label.replace(' disc', '');
        expect(x.type).toEqual([DISC_CODES[level].value, 'SCT', DISC_CODES[level].meaning]);
        expect(x.category).toEqual(['91723000', 'SCT', 'Anatomical Structure']);
        expect(x.algorithmType).toBe('AUTOMATIC');
      }
    });

    // SR: one group per reported level, with the finding, position and the segment findings.json names
    const [sr] = back.srs;
    const srDoc = findings.dicom.find((d) => d.kind === 'sr')!;
    expect(sr.sopInstanceUid).toBe(srDoc.sopInstanceUid);
    expect(sr.studyInstanceUid).toBe(studyUid);
    expect(sr.title).toEqual(['126000', 'DCM', 'Imaging Measurement Report']);
    expect(sr.observers).toEqual(['lumbar-ai']);
    const isGrading = (g: ReadBack['srs'][number]['groups'][number]) => g.finding[0] === 'DISC-GRADING';
    const isOutline = (g: ReadBack['srs'][number]['groups'][number]) =>
      g.trackingId.startsWith(OUTLINE_TRACKING_ID);
    const levelGroups = sr.groups.filter((g) => !isGrading(g) && !isOutline(g));
    // one outline group per disc found on the sagittal slice: its area, inferred from its outline there
    const outlines = sr.groups.filter(isOutline);
    expect(outlines.map((g) => g.trackingId.slice(OUTLINE_TRACKING_ID.length))).toEqual(
      DISC_LEVELS.filter((l) => findings.discs.some((d) => d.level === l)).map((l) => `:${l} disc outline`),
    );
    for (const g of outlines) {
      const level = g.trackingId.split(':').pop()!.replace(' disc outline', '');
      expect(g.template).toBe('1501');
      expect(g.findingSites).toEqual([[DISC_CODES[level].value, 'SCT', DISC_CODES[level].meaning]]);
      expect(g.measurements).toHaveLength(1);
      expect(g.measurements[0]).toMatchObject({
        name: ['42798000', 'SCT', 'Area'],
        unit: ['mm2', 'UCUM', 'mm2'],
        value: findings.discs.find((d) => d.level === level)!.areaMm2,
      });
    }
    expect(levelGroups.map((g) => g.trackingId)).toEqual(findings.levels.map((l) => `${l.level} disc`));
    for (const [i, level] of findings.levels.entries()) {
      const g = levelGroups[i];
      const expected = diagnosisCodes(level.diagnosis as DiagnosisName);
      expect(g.template).toBe('1411');
      expect(g.finding).toEqual([expected.finding.value, expected.finding.scheme, expected.finding.meaning]);
      expect(g.findingSites).toEqual([
        [DISC_CODES[level.level].value, 'SCT', DISC_CODES[level.level].meaning],
      ]);
      expect(g.evaluations.map(([n, v]) => [n[0], v[0]])).toEqual(
        expected.position ? [[expected.position.name.value, expected.position.value.value]] : [],
      );
      const p = g.measurements.find(
        (m) => m.name[0] === `P-${level.diagnosis === 'healthy' ? 'NORMAL' : level.diagnosis.toUpperCase()}`,
      );
      expect(p?.value).toBeCloseTo(0.8, 6);
      expect(p?.unit).toEqual(['1', 'UCUM', 'no units']);
      const cited = srDoc.levels!.find((l) => l.level === level.level)!.segment!;
      const seg = findings.dicom.find((d) => d.file === cited.file)!;
      expect(g.segment).toMatchObject({
        sopInstanceUid: seg.sopInstanceUid,
        segmentNumber: cited.segmentNumber,
      });
      expect(seg.segments!.find((s) => s.segmentNumber === cited.segmentNumber)!.level).toBe(level.level);
      expect(g.trackingUid).toBe(srDoc.levels![i].trackingUid);
    }
    expect(levelGroups[0].finding[2]).toBe('Disc bulge');
    expect(levelGroups[0].algorithm).toEqual({ name: 'lumbar-ai', version: expect.any(String) });
    expect(levelGroups[1].evaluations).toEqual([
      [
        ['272741003', 'SCT', 'Laterality'],
        ['24028007', 'SCT', 'Right'],
      ],
    ]);
    // SR: one grading group per graded disc, top down, by the grader model, citing the sagittal segment
    const graded = analysis.result.gradings;
    const gradingGroups = sr.groups.filter(isGrading);
    const order = (l: DiscLevel) => DISC_LEVELS.indexOf(l);
    const byLevel = [...graded].sort((a, b) => order(a.level) - order(b.level));
    expect(gradingGroups.map((g) => g.trackingId)).toEqual(byLevel.map((g) => `${g.level} disc`));
    expect(srDoc.gradings!.map((g) => g.level)).toEqual(byLevel.map((g) => g.level));
    const sagSeg = findings.dicom.find((d) => d.file === 'seg-sagittal.dcm')!;
    for (const [i, want] of byLevel.entries()) {
      const g = gradingGroups[i];
      expect(g.finding).toEqual(['DISC-GRADING', '99LUMBAR', 'Intervertebral disc grading, sagittal grader']);
      expect(g.findingSites).toEqual([[DISC_CODES[want.level].value, 'SCT', DISC_CODES[want.level].meaning]]);
      expect(g.algorithm).toEqual(GRADER);
      expect(g.comments.join(' ')).toMatch(/SPIDER.*CC BY 4\.0/);
      // the same tracking UID as the level's SEG segment; the sagittal segment is cited
      const seg = sagSeg.segments!.find((s) => s.level === want.level)!;
      expect(g.segment).toMatchObject({
        sopInstanceUid: sagSeg.sopInstanceUid,
        segmentNumber: seg.segmentNumber,
      });
      expect(g.trackingUid).toBe(srDoc.gradings![i].trackingUid);
      expect(g.trackingUid).toBe(
        back.segs[0].segments.find((s) => s.number === seg.segmentNumber)!.trackingUid,
      );
      const m = Object.fromEntries(g.measurements.map((x) => [x.name[0], x]));
      expect(m['77547008']).toEqual({
        name: ['77547008', 'SCT', 'Degeneration of intervertebral disc'],
        value: want.pfirrmann.grade,
        unit: ['{grade}', 'UCUM', 'grade'],
        method: ['PFIRRMANN', '99LUMBAR', 'Pfirrmann grading system'],
        sources: 1,
      });
      const probabilities: Array<[string, number]> = [
        ...want.pfirrmann.distribution.map((p, k): [string, number] => [`P-PFIRRMANN-${k + 1}`, p]),
        ['P-GRD-HERNIATION', want.herniation],
        ['P-GRD-BULGE', want.bulging],
        ['P-NARROWING', want.narrowing],
        ['P-MODIC', want.modic],
        ['P-ENDPLATE', want.endplate],
        ['P-LISTHESIS', want.spondylolisthesis],
      ];
      expect(g.measurements).toHaveLength(1 + probabilities.length);
      for (const [name, p] of probabilities) {
        expect(m[name].value).toBeCloseTo(p, 6);
        expect(m[name].unit).toEqual(['1', 'UCUM', 'no units']);
        expect(m[name].sources).toBe(1);
      }
      const presence = (flag: boolean) => (flag ? '52101004' : '272519000');
      expect(g.evaluations.map(([n, v]) => [n[0], v[0]])).toEqual([
        ['73589001', presence(want.flags.herniation)],
        ['DISC-BULGE', presence(want.flags.bulging)],
        ['DISC-NARROWING', presence(want.flags.narrowing)],
      ]);
    }

    expect(sr.texts.Summary).toBe(findings.summary);
    expect(sr.texts['Intended use statement']).toMatch(/not for primary diagnosis/i);

    // key images: RGB secondary captures in the source study
    expect(back.others.map((o) => [o.modality, o.shape.length, o.studyInstanceUid])).toEqual(
      findings.keyImages.map(() => ['OT', 3, studyUid]),
    );
    for (const o of back.others) expect(o.comments).toMatch(/not for primary diagnosis/i);
  });

  it('gives the same UIDs and bytes on a re-run, and the same UIDs whatever the time', async () => {
    const again = await build(CREATED);
    expect(again.outputs.map((o) => o.bytes.equals(outputs.find((x) => x.file === o.file)!.bytes))).toEqual(
      outputs.map(() => true),
    );
    const later = await build(new Date('2027-06-01T00:00:00Z'));
    const ids = (os: DicomOutput[]) => os.map((o) => [o.file, o.sopInstanceUid, o.seriesInstanceUid]);
    expect(ids(later.outputs)).toEqual(ids(outputs));
  });

  it('Orthanc accepts every object by C-STORE (0x0000) and files it in the source study, once', async () => {
    const { aet, dicomPort, rest } = orthanc();
    const sources = findFiles(study, '.dcm');
    const files = outputs.map((o) => path.join(out, o.file));
    const first = await storescu({
      port: dicomPort,
      aec: aet,
      paths: [...sources, ...files],
      requiredOnly: true,
    });
    expect(first.associationError).toBeUndefined();
    expect(first.results.filter((r) => r.status !== STATUS_SUCCESS)).toEqual([]);
    expect(first.results).toHaveLength(sources.length + files.length);
    // sent again (a re-run, a re-sent export): accepted, and no second copy
    const again = await storescu({ port: dicomPort, aec: aet, paths: files, requiredOnly: true });
    expect(again.results.map((r) => r.status)).toEqual(files.map(() => STATUS_SUCCESS));

    const studies = await rest<string[]>('/studies');
    expect(studies).toHaveLength(1);
    const info = await rest<{ MainDicomTags: { StudyInstanceUID: string } }>(`/studies/${studies[0]}`);
    expect(info.MainDicomTags.StudyInstanceUID).toBe(analysis.result.studyInstanceUid);
    const instances = await rest<Array<{ MainDicomTags: { SOPInstanceUID: string } }>>(
      `/studies/${studies[0]}/instances`,
    );
    expect(instances).toHaveLength(sources.length + files.length);
    const stored = new Set(instances.map((i) => i.MainDicomTags.SOPInstanceUID));
    for (const o of outputs) expect(stored.has(o.sopInstanceUid)).toBe(true);
    const series = await rest<Array<{ MainDicomTags: { Modality: string } }>>(
      `/studies/${studies[0]}/series`,
    );
    expect(series.map((s) => s.MainDicomTags.Modality).sort()).toEqual([
      'MR',
      'MR',
      'MR',
      'MR',
      'OT',
      'SEG',
      'SEG',
      'SR',
    ]);
  });
});

// `lumbar analyze` writes the objects beside findings.json. It needs trained models: the shipped ones, or
// LUMBAR_MODELS_DIR; without them this part is skipped (the writers are tested above either way).
const modelsDir = process.env.LUMBAR_MODELS_DIR ?? path.join(repoRoot, 'models');
const haveModels = ['sag-seg-unet', 'ax-seg-unet', 'sag-cls-discnet', 'ax-cls-discnet'].every((m) =>
  existsSync(path.join(modelsDir, m, 'model.onnx')),
);

(haveModels ? describe : describe.skip)(`lumbar analyze --models ${modelsDir}: DICOM outputs`, () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = makeTmpDir('analyze-dicom');
    await generatePhantom(path.join(tmp, 'in'), 3);
  });
  afterAll(() => removeDir(tmp));

  it('writes SR and key images (and a SEG per series with discs) that dciodvfy accepts, with stable UIDs', async () => {
    const [study] = studyDirs(path.join(tmp, 'in'));
    const analyze = (outDir: string) =>
      runTool(process.execPath, [cliMain, 'analyze', study, '--out', outDir, '--models', modelsDir], {
        cwd: repoRoot,
        timeoutMs: 180_000,
      });
    const runs = [path.join(tmp, 'a'), path.join(tmp, 'b')];
    for (const dir of runs) expect((await analyze(dir)).code).toBe(0);
    const [a, b] = runs.map((dir) => JSON.parse(readFileSync(path.join(dir, 'findings.json'), 'utf8')));
    const uids = (f: typeof a) => f.dicom.map((d: DicomOutput) => [d.file, d.sopInstanceUid]);
    expect(uids(b)).toEqual(uids(a));
    expect(a.dicom.map((d: DicomOutput) => d.file)).toContain('sr.dcm');
    for (const d of a.dicom as DicomOutput[]) {
      const v = await dciodvfy(path.join(runs[0], d.file));
      expect({ file: d.file, errors: v.errors }).toEqual({ file: d.file, errors: [] });
    }
  });
});
