// WorkerDeps lives in @lumbar/jobs (the exporter uses it too: no service imports another); kept here for the
// modules of this service that import it from './deps'.
export type { WorkerDeps } from '@lumbar/jobs';
