import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AnalysisError,
  type AnalysisOutcome,
  type AnalyzeRequest,
  type FindingsDocument,
} from '@lumbar/analysis';
import { UnrecoverableError } from '@lumbar/jobs';
import { FsObjectStore, type ObjectStore } from '@lumbar/storage';
import { handleStudy, type StudyHandlerDeps, type StudyJob } from './study-handler';
import type { StudyStore } from './store';

// The unit tier of the worker: the study handler against an in-memory store and analyzer (no Postgres, no
// Redis, no processes). The same handler runs against the real ones in test/integration/worker-exporter.

type Row = { status: string; startedAt: Date | null; lastError: string | null; attempts: number };

class MemoryStore implements StudyStore {
  studies = new Map<number, { id: number; studyInstanceUid: string; status: string; lastReceivedAt: Date }>();
  analyses = new Map<number, Row & { id: number; studyId: number }>();
  saved: Array<{ analysisId: number; summary: string; findings: number; outputs: number }> = [];
  exports: Array<{ id: number; analysisId: number; status: string; updatedAt: Date }> = [];
  private nextId = 1;

  async findStudy(id: number) {
    return this.studies.get(id) ?? null;
  }
  async ensureAnalysis(studyId: number) {
    if (!this.studies.has(studyId)) throw new Error('foreign key: no such study');
    for (const a of this.analyses.values()) if (a.studyId === studyId) return a;
    const a = { id: this.nextId++, studyId, status: 'queued', startedAt: null, lastError: null, attempts: 0 };
    this.analyses.set(a.id, a);
    return a;
  }
  async markStudyAnalyzed(studyId: number) {
    this.studies.get(studyId)!.status = 'analyzed';
  }
  async markAnalysisRunning(analysisId: number, studyId: number) {
    Object.assign(this.analyses.get(analysisId)!, {
      status: 'running',
      startedAt: new Date(),
      lastError: null,
    });
    this.analyses.get(analysisId)!.attempts++;
    this.studies.get(studyId)!.status = 'analyzing';
  }
  async markAnalysisFailed(analysisId: number, studyId: number, why: string) {
    Object.assign(this.analyses.get(analysisId)!, { status: 'failed', lastError: why });
    this.studies.get(studyId)!.status = 'failed';
  }
  async releaseAnalysis(analysisId: number, studyId: number, why: string) {
    Object.assign(this.analyses.get(analysisId)!, { status: 'queued', startedAt: null, lastError: why });
    this.studies.get(studyId)!.status = 'queued';
  }
  async saveAnalysisResult(
    a: { analysisId: number; studyId: number; summary: string },
    findings: unknown[],
    outputs: unknown[],
    destinations: string[],
  ) {
    this.saved.push({
      analysisId: a.analysisId,
      summary: a.summary,
      findings: findings.length,
      outputs: outputs.length,
    });
    this.analyses.get(a.analysisId)!.status = 'succeeded';
    this.studies.get(a.studyId)!.status = 'analyzed';
    const made = destinations.map((_, i) => ({
      id: this.exports.length + 1 + i,
      analysisId: a.analysisId,
      status: 'pending',
      updatedAt: new Date(),
    }));
    this.exports.push(...made);
    return made.map(({ id, updatedAt }) => ({ id, updatedAt }));
  }
  async pendingExports(analysisId: number) {
    return this.exports.filter((e) => e.analysisId === analysisId && e.status === 'pending');
  }
}

const UID = '2.25.1234';
const findings = (summary: string): FindingsDocument => ({
  studyInstanceUid: UID,
  levels: [
    {
      level: 'L5-S1',
      diagnosis: 'left',
      probabilities: { healthy: 0.1, bulge: 0.1, central: 0.1, left: 0.6, right: 0.1 },
      reason: null,
      evidence: { sagittal: null, axial: [] },
    },
  ],
  summary,
  algorithm: { name: 'lumbar-ai', version: 'test', models: {} },
  disclaimer: 'Not for primary diagnosis',
  series: { sagittal: '2.25.1', axial: null },
  discs: [],
  sagittalProbabilities: null,
  gradings: [],
  keyImages: [],
  dicom: [
    {
      file: 'sr.dcm',
      kind: 'sr',
      sopClassUid: '1.2.840.10008.5.1.4.1.1.88.22',
      sopInstanceUid: '2.25.9',
      seriesInstanceUid: '2.25.8',
    },
  ],
  warnings: [],
  timingsMs: {},
});

/** An analyzer that answers from a script: a findings summary, or an AnalysisError to throw. */
class ScriptedAnalyzer {
  calls: AnalyzeRequest[] = [];
  constructor(private readonly answers: Array<string | AnalysisError>) {}
  async analyze(request: AnalyzeRequest): Promise<AnalysisOutcome> {
    this.calls.push(request);
    const next = this.answers.shift();
    if (next === undefined) throw new Error('the test gave no answer for this call');
    if (next instanceof AnalysisError) throw next;
    writeFileSync(join(request.outDir, 'findings.json'), '{}');
    writeFileSync(join(request.outDir, 'sr.dcm'), 'DICM');
    return { findings: findings(next), files: ['findings.json', 'sr.dcm'], analysisMs: 5 };
  }
}

function setup(answers: Array<string | AnalysisError>, lastReceivedAt = new Date()) {
  const dataDir = mkdtempSync(join(tmpdir(), 'lumbar-handler-'));
  const store = new MemoryStore();
  store.studies.set(1, { id: 1, studyInstanceUid: UID, status: 'queued', lastReceivedAt });
  const analyzer = new ScriptedAnalyzer(answers);
  const queued: Array<{ exportId: number; generation: string }> = [];
  const logs: string[] = [];
  const deps: StudyHandlerDeps = {
    config: { dataDir, destinations: [{ aeTitle: 'PACS', host: '127.0.0.1', port: 104 }] },
    log: {
      info: (_o: object, m: string) => logs.push(m),
      warn: (_o: object, m: string) => logs.push(m),
    } as unknown as StudyHandlerDeps['log'],
    store,
    analyzer,
    queueExport: async (exportId, generation) => void queued.push({ exportId, generation }),
  };
  return { deps, store, analyzer, queued, dataDir, logs };
}

const job = (over: Partial<StudyJob> = {}): StudyJob => ({
  id: '7',
  name: 'study.stable',
  data: { studyId: 1 },
  attemptsMade: 0,
  opts: { attempts: 3 },
  ...over,
});

describe('the study handler (in-memory store and analyzer)', () => {
  it('success: stores the findings, moves the outputs into place and queues one export per destination', async () => {
    const { deps, store, analyzer, queued, dataDir } = setup(['L5/S1 herniation, left']);
    await expect(handleStudy(deps, job())).resolves.toBe('L5/S1 herniation, left');
    expect(analyzer.calls).toEqual([
      {
        study: join(dataDir, 'instances', UID),
        outDir: expect.stringContaining(join(dataDir, 'outputs', '1', '.tmp-1-7-0')),
      },
    ]);
    expect(store.saved).toEqual([
      { analysisId: 1, summary: 'L5/S1 herniation, left', findings: 1, outputs: 1 },
    ]);
    expect(store.studies.get(1)!.status).toBe('analyzed');
    expect(queued).toEqual([{ exportId: 1, generation: expect.stringMatching(/^\d+$/) }]);
    // the outputs are in their final folder; no temporary folder is left behind
    expect(readdirSync(join(dataDir, 'outputs', '1'))).toEqual(['1']);
    expect(readdirSync(join(dataDir, 'outputs', '1', '1')).sort()).toEqual(['findings.json', 'sr.dcm']);
  });

  it('a typed pipeline error (BAD_INPUT) fails the study at once, without a retry, with the code and sentence', async () => {
    const { deps, store, dataDir } = setup([
      new AnalysisError('BAD_INPUT', 'no sagittal T2 series: cannot locate the discs'),
    ]);
    const err = await handleStudy(deps, job()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnrecoverableError);
    expect((err as Error).message).toBe('BAD_INPUT: no sagittal T2 series: cannot locate the discs');
    expect(store.analyses.get(1)).toMatchObject({
      status: 'failed',
      lastError: 'BAD_INPUT: no sagittal T2 series: cannot locate the discs',
    });
    expect(store.studies.get(1)!.status).toBe('failed');
    expect(readdirSync(join(dataDir, 'outputs', '1'))).toEqual([]);
  });

  it('a timeout is retried by the queue: not failed before the last attempt, failed on it', async () => {
    const timeout = () =>
      new AnalysisError('TIMEOUT', 'the analysis took longer than 300000 ms and was stopped (2 attempts)');
    const first = setup([timeout()]);
    const err = await handleStudy(first.deps, job({ attemptsMade: 0 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(UnrecoverableError);
    expect(first.store.analyses.get(1)!.status).toBe('running');

    const last = setup([timeout()]);
    await expect(handleStudy(last.deps, job({ attemptsMade: 2 }))).rejects.toThrow(
      /^TIMEOUT: the analysis took longer/,
    );
    expect(last.store.analyses.get(1)!.status).toBe('failed');
    expect(last.store.studies.get(1)!.status).toBe('failed');
  });

  it('a crash is retried, and the next attempt succeeds', async () => {
    const { deps, store } = setup([
      new AnalysisError('CRASHED', 'the analysis process ended unexpectedly (SIGSEGV) (2 attempts)'),
      'L4/L5 herniation, central',
    ]);
    await expect(handleStudy(deps, job())).rejects.toThrow(/^CRASHED: /);
    expect(store.studies.get(1)!.status).toBe('analyzing');
    await expect(handleStudy(deps, job({ attemptsMade: 1 }))).resolves.toBe('L4/L5 herniation, central');
    expect(store.analyses.get(1)).toMatchObject({ status: 'succeeded', attempts: 2 });
  });

  it('a study already analysed after its last instance is not analysed again; its pending exports are re-queued', async () => {
    const { deps, store, analyzer, queued } = setup(['first'], new Date(Date.now() - 60_000));
    await handleStudy(deps, job());
    expect(queued).toHaveLength(1);
    store.studies.get(1)!.status = 'queued';
    await expect(handleStudy(deps, job({ id: '8' }))).resolves.toBe(
      'already analysed; 1 pending exports queued',
    );
    expect(analyzer.calls).toHaveLength(1);
    expect(queued).toHaveLength(2);
    expect(store.studies.get(1)!.status).toBe('analyzed');
    // a re-analysis request is honoured even so
    const again = setup(['second'], new Date(Date.now() - 60_000));
    await handleStudy(again.deps, job());
    await expect(
      handleStudy(
        { ...again.deps, analyzer: new ScriptedAnalyzer(['third']) },
        job({ name: 'study.reanalyze' }),
      ),
    ).resolves.toBe('third');
  });

  it('the node stopping (SHUTDOWN) releases the study: queued again, nothing failed, no outputs left', async () => {
    const { deps, store, dataDir } = setup([
      new AnalysisError('SHUTDOWN', 'the node stopped after 30000 ms while the study was analysed'),
    ]);
    await expect(handleStudy(deps, job({ attemptsMade: 2 }))).rejects.toThrow(/^SHUTDOWN: /);
    expect(store.analyses.get(1)).toMatchObject({ status: 'queued', startedAt: null });
    expect(store.studies.get(1)!.status).toBe('queued');
    expect(existsSync(join(dataDir, 'outputs', '1', '1'))).toBe(false);
  });

  it('an unknown study is refused without a retry', async () => {
    const { deps } = setup([]);
    await expect(handleStudy(deps, job({ data: { studyId: 99 } }))).rejects.toBeInstanceOf(
      UnrecoverableError,
    );
  });
});

// LUMBAR_STORAGE=s3: the handler sees only the ObjectStore interface; a folder (FsObjectStore) stands in for the
// bucket here. The real bucket (moto) is in packages/storage and test/integration/scale-out.test.ts.
describe('the study handler with an object store (instances fetched, outputs put back)', () => {
  function withObjects(answers: Array<string | AnalysisError>, objects?: ObjectStore) {
    const t = setup(answers);
    const bucket = new FsObjectStore(mkdtempSync(join(tmpdir(), 'lumbar-bucket-')));
    const saved: string[] = [];
    const save = t.store.saveAnalysisResult.bind(t.store);
    t.store.saveAnalysisResult = async (a: Parameters<StudyStore['saveAnalysisResult']>[0], ...rest) => {
      saved.push(a.outputDir);
      return save(a, ...rest);
    };
    const seen: string[][] = [];
    const analyze = t.analyzer.analyze.bind(t.analyzer);
    t.analyzer.analyze = async (r) => {
      seen.push(readdirSync(String(r.study), { recursive: true }).map(String).sort());
      return analyze(r);
    };
    return { ...t, bucket, saved, seen, deps: { ...t.deps, objects: objects ?? bucket } };
  }

  it('analyses the instances fetched into a scratch folder and puts the outputs under outputs/<study>/<analysis>', async () => {
    const { deps, bucket, saved, seen, analyzer, dataDir, store } = withObjects(['done']);
    await bucket.put(`instances/${UID}/2.25.1/2.25.1.1.dcm`, Buffer.from('a'));
    await bucket.put(`instances/${UID}/2.25.1/2.25.1.2.dcm`, Buffer.from('b'));
    await bucket.put(`instances/${UID}9/2.25.2/2.25.2.1.dcm`, Buffer.from('another study'));
    await expect(handleStudy(deps, job())).resolves.toBe('done');
    expect(seen).toEqual([['2.25.1', join('2.25.1', '2.25.1.1.dcm'), join('2.25.1', '2.25.1.2.dcm')]]);
    expect(analyzer.calls[0].study).toBe(join(dataDir, 'work', '1-1-7-0', 'instances'));
    expect(await bucket.list('outputs/')).toEqual(['outputs/1/1/findings.json', 'outputs/1/1/sr.dcm']);
    expect(saved).toEqual([bucket.location('outputs/1/1')]);
    expect(store.studies.get(1)!.status).toBe('analyzed');
    // nothing of the study stays on the worker: no instances/, no outputs/, the scratch folder gone
    expect(readdirSync(dataDir)).toEqual(['work']);
    expect(readdirSync(join(dataDir, 'work'))).toEqual([]);
  });

  it('a study with no instance in the store fails at once (BAD_INPUT)', async () => {
    const { deps, store, analyzer } = withObjects(['never']);
    await expect(handleStudy(deps, job())).rejects.toBeInstanceOf(UnrecoverableError);
    expect(store.analyses.get(1)).toMatchObject({ status: 'failed' });
    expect(store.analyses.get(1)!.lastError).toMatch(/^BAD_INPUT: no instances of study/);
    expect(analyzer.calls).toEqual([]);
  });

  it('a store that cannot be written is retried: not failed before the last attempt, no scratch left', async () => {
    const t = withObjects(['one', 'two']);
    const broken: ObjectStore = Object.assign(Object.create(t.bucket) as ObjectStore, {
      putFile: async () => {
        throw new Error('object store s3://x unavailable: ECONNREFUSED');
      },
    });
    await t.bucket.put(`instances/${UID}/2.25.1/2.25.1.1.dcm`, Buffer.from('a'));
    const deps = { ...t.deps, objects: broken };
    await expect(handleStudy(deps, job())).rejects.toThrow(
      /^INTERNAL: cannot store the outputs: .*ECONNREFUSED/,
    );
    expect(t.store.analyses.get(1)!.status).toBe('running');
    expect(readdirSync(join(t.dataDir, 'work'))).toEqual([]);
    await expect(handleStudy(deps, job({ attemptsMade: 2 }))).rejects.toThrow(/cannot store the outputs/);
    expect(t.store.analyses.get(1)!.status).toBe('failed');
    expect(t.saved).toEqual([]);
  });
});
