import { loadWorkerConfig } from '@lumbar/core';
import { analysisSettings, analysisSettingsFromFlags, DEFAULT_MODELS_DIR } from './settings';

describe('analysis settings', () => {
  it('share the cores out between the pool processes unless LUMBAR_INTRA_OP_THREADS says otherwise', () => {
    const w = (env: Record<string, string>) => loadWorkerConfig(env);
    expect(analysisSettings(w({}), 2)).toEqual({
      modelsDir: DEFAULT_MODELS_DIR,
      providers: ['cpu'],
      intraOpThreads: 2,
    });
    expect(analysisSettings(w({ LUMBAR_WORKER_CONCURRENCY: '2' }), 2).intraOpThreads).toBe(1);
    expect(analysisSettings(w({ LUMBAR_WORKER_CONCURRENCY: '4' }), 2).intraOpThreads).toBe(1);
    expect(analysisSettings(w({ LUMBAR_WORKER_CONCURRENCY: '2' }), 16).intraOpThreads).toBe(4);
    expect(
      analysisSettings(w({ LUMBAR_WORKER_CONCURRENCY: '2', LUMBAR_INTRA_OP_THREADS: '3' }), 2).intraOpThreads,
    ).toBe(3);
    // on a GPU the models' threads are ONNX Runtime's choice
    expect(analysisSettings(w({ LUMBAR_EXECUTION_PROVIDERS: 'cuda,cpu' }), 16)).toMatchObject({
      providers: ['cuda', 'cpu'],
      intraOpThreads: null,
    });
    expect(analysisSettings(w({ LUMBAR_MODELS_DIR: '/site/models' }), 2).modelsDir).toBe('/site/models');
  });

  it('a bad setting stops the start naming the variable', () => {
    expect(() => loadWorkerConfig({ LUMBAR_ANALYSIS_MEMORY_LIMIT_MB: '50' })).toThrow(
      /LUMBAR_ANALYSIS_MEMORY_LIMIT_MB: "50" is not an integer between 200/,
    );
    expect(() => loadWorkerConfig({ LUMBAR_GPU_DEVICES: '0,gpu1' })).toThrow(
      /LUMBAR_GPU_DEVICES: "gpu1" is not a GPU number/,
    );
    expect(() => loadWorkerConfig({ LUMBAR_SHUTDOWN_GRACE_MS: '-1' })).toThrow(/LUMBAR_SHUTDOWN_GRACE_MS/);
  });

  it('flags win over their variables, and a bad one names both', () => {
    const env = { LUMBAR_MODELS_DIR: '/env/models', LUMBAR_INTRA_OP_THREADS: '2' };
    expect(analysisSettingsFromFlags({ models: '/flag/models', threads: '1' }, env)).toEqual({
      modelsDir: '/flag/models',
      providers: ['cpu'],
      intraOpThreads: 1,
    });
    expect(analysisSettingsFromFlags({}, env)).toMatchObject({ modelsDir: '/env/models', intraOpThreads: 2 });
    expect(() => analysisSettingsFromFlags({ providers: 'gpu' }, {})).toThrow(
      /--providers \/ LUMBAR_EXECUTION_PROVIDERS: unknown execution provider "gpu"/,
    );
  });
});
