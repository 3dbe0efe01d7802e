// An analysis process of the pool (pool.ts): loads the models once, then analyses one study per message
// and answers with the checked findings or a typed error. It exits when told to, or when its parent goes.
import { AnalysisEngine, type AnalyzeRequest } from './engine';
import { AnalysisError } from './errors';
import type { AnalysisSettings } from './settings';
import type { ChildMessage, ParentMessage } from './protocol';

const send = (m: ChildMessage) =>
  new Promise<void>((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(m, undefined, undefined, () => resolve());
  });

async function main(): Promise<void> {
  const settings = JSON.parse(process.argv[2] ?? '{}') as AnalysisSettings;
  let engine: AnalysisEngine;
  try {
    engine = await AnalysisEngine.open(settings);
  } catch (err) {
    await send({ type: 'fatal', error: AnalysisError.from(err).toWire() });
    process.exit(1);
  }
  let busy: Promise<void> = Promise.resolve();
  process.on('message', (m: ParentMessage) => {
    if (m.type === 'analyze') {
      busy = busy.then(async () => {
        try {
          const outcome = await engine.analyze(m.request as AnalyzeRequest);
          await send({ type: 'done', id: m.id, ok: true, outcome, rssBytes: process.memoryUsage().rss });
        } catch (err) {
          const error = AnalysisError.from(err).toWire();
          await send({ type: 'done', id: m.id, ok: false, error, rssBytes: process.memoryUsage().rss });
        }
      });
    } else if (m.type === 'close') {
      void busy.then(async () => {
        await engine.close();
        process.exit(0);
      });
    }
  });
  // The parent went away (crashed or killed): nobody will read our answers.
  process.on('disconnect', () => process.exit(0));
  await send({ type: 'ready', pid: process.pid, models: engine.modelVersions() });
}

void main();
