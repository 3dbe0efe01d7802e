import { parentPort } from 'node:worker_threads';
import { StudyJob, runStudyJob } from './generate';

parentPort?.on('message', (job: StudyJob) => {
  try {
    parentPort?.postMessage({ index: job.index, result: runStudyJob(job) });
  } catch (err) {
    parentPort?.postMessage({
      index: job.index,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
  }
});
