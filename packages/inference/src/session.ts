import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { InputError } from '@lumbar/core';
import { ModelCard, inputDims, parseModelCard } from './card';

export type ExecutionProvider = 'cpu' | 'cuda' | 'tensorrt';

export interface SessionOptions {
  /** Execution providers by preference; ONNX Runtime falls back along the list. Default ['cpu']. */
  providers?: ExecutionProvider[];
  /** Intra-op threads; default defaultIntraOpThreads(). */
  intraOpThreads?: number;
}

/**
 * Intra-op threads by default: the cores, at most 4. One analysis runs per process (the worker runs each in
 * a child process), so its convolutions may use the machine; on 2 cores a 256x256 U-Net took 21 ms with 2
 * threads against 38 ms with 1 (docs/BENCHMARKS.md). Set 1 where several analyses share the cores.
 */
export function defaultIntraOpThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/** One ONNX model and its card: the session is created once and reused for every call. */
export class OnnxModel {
  private constructor(
    readonly card: ModelCard,
    private readonly session: ort.InferenceSession,
  ) {}

  static async open(dir: string, opts: SessionOptions = {}): Promise<OnnxModel> {
    const cardPath = join(dir, 'model.json');
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(cardPath, 'utf8'));
    } catch (err) {
      throw new InputError(`cannot read model card ${cardPath}: ${(err as Error).message}`);
    }
    const card = parseModelCard(raw, cardPath);
    const session = await ort.InferenceSession.create(join(dir, card.file), {
      executionProviders: opts.providers ?? ['cpu'],
      intraOpNumThreads: opts.intraOpThreads ?? defaultIntraOpThreads(),
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      // No CPU memory arena: the arena keeps the peak of every run allocated. Without it an analysis process
      // peaked at 437-574 MB instead of 562-652 MB on phantom studies, with the same throughput
      // (bench/analysis-pool.js, docs/BENCHMARKS.md).
      enableCpuMemArena: false,
    });
    return new OnnxModel(card, session);
  }

  /** Runs a batch of `n` inputs laid out NCHW; returns the raw output tensor data and its dims. */
  async run(data: Float32Array, n: number): Promise<{ data: Float32Array; dims: readonly number[] }> {
    const [c, h, w] = inputDims(this.card);
    if (data.length !== n * c * h * w) {
      throw new InputError(
        `${this.card.name}: input has ${data.length} values, expected ${n}x${c}x${h}x${w}`,
      );
    }
    const feeds = { [this.card.input.name]: new ort.Tensor('float32', data, [n, c, h, w]) };
    const out = await this.session.run(feeds);
    const t = out[this.card.output.name] ?? Object.values(out)[0];
    return { data: t.data as Float32Array, dims: t.dims };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}
