import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { InputError } from '@lumbar/core';
import { ModelCard, inputDims, parseModelCard } from './card';

export type ExecutionProvider = 'cpu' | 'cuda' | 'tensorrt';

export interface SessionOptions {
  /** Execution providers by preference; ONNX Runtime falls back along the list. Default ['cpu']. */
  providers?: ExecutionProvider[];
  /** Intra-op threads: 1 measured fastest for these small models on 2 cores (docs/BENCHMARKS.md). */
  intraOpThreads?: number;
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
      intraOpNumThreads: opts.intraOpThreads ?? 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
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
