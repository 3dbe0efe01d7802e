import { PNG } from 'pngjs';
import type { AxialClass, DiscLevel } from '@lumbar/core';
import type { Diagnosis, DiscGrading, KeyImage, LevelFinding } from '@lumbar/pipeline';
import { parseSiteLabels } from './labels';
import { renderPlot, scopePlotSpecs } from './plots';
import { buildSiteReport, reasonKind, type StudyOutcome } from './report';
import { renderReportHtml } from './report-html';

const probs = (p: Partial<Record<AxialClass, number>>): Record<AxialClass, number> => ({
  healthy: 0,
  bulge: 0,
  central: 0,
  left: 0,
  right: 0,
  ...p,
});

function finding(
  level: DiscLevel,
  diagnosis: Diagnosis,
  p: Partial<Record<AxialClass, number>>,
  reason: string | null = null,
): LevelFinding {
  return { level, diagnosis, probabilities: probs(p), reason, evidence: { sagittal: null, axial: [] } };
}

function grading(
  level: DiscLevel,
  herniation: number,
  grade: 1 | 2 | 3 | 4 | 5,
): DiscGrading & { level: DiscLevel } {
  return {
    level,
    model: { name: 'sag-grading', version: '0.1.0' },
    sopInstanceUid: '1.2.3',
    fromBottom: 1,
    herniation,
    bulging: 0.1,
    narrowing: 0.1,
    modic: 0,
    endplate: 0,
    spondylolisthesis: 0,
    pfirrmann: { grade, distribution: [0.2, 0.2, 0.2, 0.2, 0.2] },
    flags: { herniation: herniation >= 0.5, bulging: false, narrowing: false },
  };
}

// only the titles matter here (which key image belongs to which level)
const keyImages = [
  { title: 'mid-sagittal T2, discs by level' },
  { title: 'axial T2 through L4-L5' },
  { title: 'axial T2 through L5-S1' },
] as unknown as KeyImage[];

describe('buildSiteReport', () => {
  const labels = parseSiteLabels(
    [
      'study_instance_uid,level,diagnosis,herniation,pfirrmann',
      '1.1,L4-L5,left,1,3', // 2: found left: right
      '1.1,L5-S1,healthy,0,2', // 3: found healthy: right
      '1.1,L3-L4,bulge,0,2', // 4: outside the reported levels; graded 5: off by three
      '1.2,L4-L5,central,1,', // 5: found right (side wrong: central truth is no side)
      '1.2,L5-S1,right,1,', // 6: indeterminate, low confidence
      '1.3,L4-L5,healthy,,', // 7: the study failed
    ].join('\n'),
    'l.csv',
  );
  const outcomes: StudyOutcome[] = [
    {
      study: 's1',
      dir: '/d/s1',
      studyInstanceUid: '1.1',
      labels: labels.filter((l) => l.studyInstanceUid === '1.1'),
      result: {
        levels: [
          finding('L4-L5', 'left', { left: 0.7, healthy: 0.3 }),
          finding('L5-S1', 'healthy', { healthy: 0.9, right: 0.1 }),
        ],
        gradings: [grading('L4-L5', 0.8, 3), grading('L5-S1', 0.2, 3), grading('L3-L4', 0.1, 5)],
        keyImages,
        models: {},
        warnings: [],
      },
      error: null,
      keyImages: [
        'studies/s1/key-images/1.png',
        'studies/s1/key-images/2.png',
        'studies/s1/key-images/3.png',
      ],
      findings: 'studies/s1/findings.json',
      warnings: [],
    },
    {
      study: 's2',
      dir: '/d/s2',
      studyInstanceUid: '1.2',
      labels: labels.filter((l) => l.studyInstanceUid === '1.2'),
      result: {
        levels: [
          finding('L4-L5', 'right', { right: 0.6, healthy: 0.4 }),
          finding(
            'L5-S1',
            'indeterminate',
            { right: 0.35, healthy: 0.3, bulge: 0.35 },
            'low confidence: best class right at 0.35',
          ),
        ],
        gradings: [],
        keyImages: keyImages.slice(0, 2),
        models: {},
        warnings: [],
      },
      error: null,
      keyImages: ['studies/s2/key-images/1.png', 'studies/s2/key-images/2.png'],
      findings: 'studies/s2/findings.json',
      warnings: [],
    },
    {
      study: 's3',
      dir: '/d/s3',
      studyInstanceUid: '1.3',
      labels: labels.filter((l) => l.studyInstanceUid === '1.3'),
      result: null,
      error: '/d/s3: no sagittal T2 series',
      keyImages: [],
      findings: null,
      warnings: [],
    },
  ];
  const report = buildSiteReport(outcomes, {
    site: 'Test',
    date: new Date('2026-01-02T03:04:05Z'),
    algorithm: { name: 'lumbar-ai', version: '9.9.9' },
    disclaimer: 'Not for primary diagnosis.',
    studiesDir: '/d',
    labelsFile: '/l.csv',
    models: { axialCls: { name: 'ax-cls', version: '1.0.0' } },
    unlabelled: ['s4'],
    reportLevels: ['L4-L5', 'L5-S1'],
  });
  const all = report.scopes[0];

  it('scores the determinate levels and counts the indeterminate ones with their reasons', () => {
    expect(report.labels).toEqual({ rows: 6, scored: 5, outsideScope: 1 });
    expect(report.studies).toEqual({ n: 3, analysed: 2, failed: 1, unlabelled: ['s4'] });
    expect(all.levels).toBe(5);
    expect(all.determinate).toBe(3);
    expect(all.confusion.columns).toEqual(['healthy', 'bulge', 'central', 'left', 'right', 'indeterminate']);
    expect(all.confusion.matrix).toEqual([
      [1, 0, 0, 0, 0, 1],
      [0, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 1, 0],
      [0, 0, 0, 1, 0, 0],
      [0, 0, 0, 0, 0, 1],
    ]);
    const h = all.herniation;
    expect([h.tp, h.fp, h.tn, h.fn]).toEqual([2, 0, 1, 0]);
    expect(all.side).toMatchObject({ k: 1, n: 1 }); // the central one has no side
    expect(all.type).toMatchObject({ k: 1, n: 2 });
    expect(all.accuracy).toMatchObject({ k: 2, n: 3 });
    // intention to diagnose: the indeterminate herniated level is a miss, the failed healthy one a false alarm
    expect(all.intentionToDiagnose.sensitivity).toMatchObject({ k: 2, n: 3 });
    expect(all.intentionToDiagnose.specificity).toMatchObject({ k: 1, n: 2 });
    expect(all.indeterminate.rate).toMatchObject({ k: 2, n: 5 });
    expect(all.indeterminate.reasons).toEqual([
      { reason: 'low confidence', n: 1 },
      { reason: 'the study could not be analysed', n: 1 },
    ]);
    expect(all.roc.auc).toBe(1);
    expect(report.scopes.map((s) => [s.scope, s.levels])).toEqual([
      ['all levels', 5],
      ['L4-L5', 3],
      ['L5-S1', 2],
    ]);
  });

  it('lists every wrong or indeterminate level with its CSV line and key image', () => {
    expect(report.cases.map((c) => [c.kind, c.study, c.level, c.line, c.keyImage])).toEqual([
      ['wrong', 's2', 'L4-L5', 5, 'studies/s2/key-images/2.png'],
      ['indeterminate', 's2', 'L5-S1', 6, 'studies/s2/key-images/1.png'], // no axial key image: the sagittal one
      ['indeterminate', 's3', 'L4-L5', 7, null],
    ]);
  });

  it('scores the sagittal grader where the grading columns are given', () => {
    const g = report.grading!;
    expect(g.labelled).toBe(5);
    expect(g.graded).toBe(3); // s1's three discs; s2 has no gradings, s3 failed
    expect(g.herniation).toMatchObject({ n: 3, positives: 1 });
    expect(g.herniation!.roc.auc).toBe(1);
    expect(g.pfirrmann).toMatchObject({ n: 3, exact: { k: 1, n: 3 }, withinOne: { k: 2, n: 3 } });
  });

  it('renders a page with every headline figure and the plots as PNG', () => {
    const html = renderReportHtml(report);
    expect(html).toContain('A site measurement, not a clearance.');
    expect(html).toContain('lumbar-ai 9.9.9');
    expect(html).toContain('ax-cls 1.0.0');
    expect(html).toMatch(/data-figure="scopes\.0\.herniation\.sensitivity"><b>1\.000<\/b>/);
    expect(html).not.toMatch(/https?:\/\//); // nothing fetched from elsewhere
    const specs = scopePlotSpecs(all);
    for (const spec of Object.values(specs)) {
      const png = PNG.sync.read(renderPlot(spec));
      expect([png.width, png.height]).toEqual([560, 500]);
      // some pixels are the curve's blue
      let blue = 0;
      for (let i = 0; i < png.data.length; i += 4)
        if (png.data[i] === 31 && png.data[i + 1] === 100 && png.data[i + 2] === 180) blue++;
      expect(blue).toBeGreaterThan(50);
    }
  });

  it('groups reasons without their numbers and levels', () => {
    expect(reasonKind('low confidence: best class left at 0.31')).toBe('low confidence');
    expect(reasonKind('the L4-L5 disc was not found on the sagittal images')).toBe(
      'the level disc was not found on the sagittal images',
    );
    expect(reasonKind(null)).toBe('no reason given');
  });
});
