import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SeriesRules } from '@lumbar/dicom';
import { initImaging } from '@lumbar/imaging';
import { closeModelSet, openModelSet, type ModelSet } from '@lumbar/inference';
import { analyzeStudy, type AnalysisResult } from '@lumbar/pipeline';
import { buildDicomOutputs } from './dicom-outputs';
import { AnalysisError } from './errors';
import { findingsDocument } from './findings';
import { renderKeyImage } from './overlay';
import { checkFindings, type FindingsDocument } from './schema';
import { checkModelsFolder, type AnalysisSettings } from './settings';
import { loadStudyInput, readSourceImages, type LoadedInput, type StudySource } from './study-input';

/** One study to analyse and where its outputs go. Plain data: it crosses the process boundary as is. */
export interface AnalyzeRequest {
  /** A study folder, or the study's files. */
  study: StudySource;
  /** Where findings.json, key-images/ and the DICOM objects are written (created if missing). */
  outDir: string;
  /** Series selection rules overriding the defaults. */
  rules?: SeriesRules;
  /** The content date and time the DICOM outputs carry (ISO text); default now. */
  createdAt?: string;
}

/** What one analysis gave: the checked findings document and the files written beside it. */
export interface AnalysisOutcome {
  findings: FindingsDocument;
  /** Paths relative to outDir: findings.json, the key images, the DICOM objects. */
  files: string[];
  /** The analysis itself (read, infer, write), in ms, as the engine measured it. */
  analysisMs: number;
}

/**
 * The analysis as a library: models loaded once, then any number of studies, one at a time. Every failure is
 * an AnalysisError (a code and a sentence); every findings document it returns has been checked against
 * FindingsSchema. `lumbar analyze`, `validate`, `evaluate` and `finetune` run it in their own process; the
 * worker runs it in a pool of long-lived processes (pool.ts).
 */
export class AnalysisEngine {
  private closed = false;

  private constructor(
    readonly models: ModelSet,
    readonly settings: AnalysisSettings,
  ) {}

  /** Loads the models (and the image library) once. A folder that cannot be loaded: AnalysisError MODELS. */
  static async open(settings: AnalysisSettings): Promise<AnalysisEngine> {
    checkModelsFolder(settings.modelsDir);
    let models: ModelSet;
    try {
      [models] = await Promise.all([
        openModelSet(settings.modelsDir, {
          providers: settings.providers,
          intraOpThreads: settings.intraOpThreads ?? undefined,
        }),
        initImaging(),
      ]);
    } catch (err) {
      throw new AnalysisError(
        'MODELS',
        `cannot load the models in ${settings.modelsDir}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    return new AnalysisEngine(models, settings);
  }

  /** The name and version of every model loaded, by role. */
  modelVersions(): Record<string, { name: string; version: string }> {
    return Object.fromEntries(
      Object.entries(this.models).flatMap(([role, m]) =>
        m ? [[role, { name: m.card.name, version: m.card.version }]] : [],
      ),
    );
  }

  /**
   * Reads and analyses one study in memory, writing nothing: the pipeline's full result (masks, key-image
   * pixels, evidence), for the commands that score or learn from it. Errors: AnalysisError.
   */
  async study(
    source: StudySource,
    opts: { rules?: SeriesRules; captureInputs?: boolean } = {},
  ): Promise<{ loaded: LoadedInput; result: AnalysisResult }> {
    this.assertOpen();
    try {
      const loaded = await loadStudyInput(source, opts.rules);
      const result = await analyzeStudy(loaded.input, this.models, { captureInputs: opts.captureInputs });
      return { loaded, result };
    } catch (err) {
      throw AnalysisError.from(err);
    }
  }

  /** The whole analysis of one study: findings.json, key images and the DICOM SEG, SR and captures written. */
  async analyze(req: AnalyzeRequest): Promise<AnalysisOutcome> {
    const t0 = performance.now();
    const { loaded, result } = await this.study(req.study, { rules: req.rules });
    try {
      const files: string[] = [];
      await mkdir(join(req.outDir, 'key-images'), { recursive: true });
      for (const [i, k] of result.keyImages.entries()) {
        const file = `key-images/${i + 1}.png`;
        await writeFile(join(req.outDir, file), renderKeyImage(k));
        files.push(file);
      }
      const sources = await readSourceImages(loaded.sourceFiles);
      const dicom = buildDicomOutputs(result, sources, {
        createdAt: req.createdAt ? new Date(req.createdAt) : new Date(),
      });
      for (const d of dicom.outputs) {
        await writeFile(join(req.outDir, d.file), d.bytes);
        files.push(d.file);
      }
      const doc = findingsDocument(
        result,
        loaded.series,
        [...loaded.warnings, ...dicom.warnings],
        dicom.outputs,
      );
      doc.timingsMs = { ...doc.timingsMs, wall: Math.round(performance.now() - t0) };
      const findings = checkFindings(doc);
      await writeFile(join(req.outDir, 'findings.json'), JSON.stringify(findings, null, 2) + '\n');
      files.unshift('findings.json');
      return { findings, files, analysisMs: performance.now() - t0 };
    } catch (err) {
      throw AnalysisError.from(err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await closeModelSet(this.models);
  }

  private assertOpen(): void {
    if (this.closed) throw new AnalysisError('SHUTDOWN', 'the analysis engine is closed');
  }
}
