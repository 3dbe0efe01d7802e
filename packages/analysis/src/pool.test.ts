import { poolPlan } from './pool';

const settings = (providers: Array<'cpu' | 'cuda' | 'tensorrt'>) => ({
  modelsDir: 'models',
  providers,
  intraOpThreads: null,
});

describe('the pool plan', () => {
  it('runs LUMBAR_WORKER_CONCURRENCY processes on CPU', () => {
    expect(poolPlan({ settings: settings(['cpu']), size: 3 })).toEqual([
      { gpu: null },
      { gpu: null },
      { gpu: null },
    ]);
    expect(poolPlan({ settings: settings(['cpu']), size: 0 })).toEqual([{ gpu: null }]);
  });

  it('runs one process per GPU when the providers name one, whatever the concurrency', () => {
    expect(poolPlan({ settings: settings(['cuda', 'cpu']), size: 4, gpuDevices: ['0', '1'] })).toEqual([
      { gpu: '0' },
      { gpu: '1' },
    ]);
    expect(poolPlan({ settings: settings(['tensorrt', 'cuda']), size: 4, gpuDevices: null })).toEqual([
      { gpu: '0' },
    ]);
  });
});
