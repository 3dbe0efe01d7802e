import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Api, ApiDeps } from '../deps';
import { exportCounts, queueCounts, studyCounts } from '../counts';

declare module 'fastify' {
  interface FastifyInstance {
    metricsRegistry: Registry;
  }
}

export const METRIC_NAMES = {
  requests: 'lumbar_api_http_requests_total',
  duration: 'lumbar_api_http_request_duration_seconds',
  studies: 'lumbar_studies',
  exports: 'lumbar_exports',
  queue: 'lumbar_queue_jobs',
} as const;

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'prioritized'] as const;

/**
 * Prometheus metrics in a registry of this app's own (several apps may live in one process): HTTP requests
 * by route and status, and at scrape time studies and exports by status and the depth of each queue.
 */
export function installMetrics(app: Api, deps: ApiDeps): void {
  // A dependency that is down leaves its gauges out of this scrape instead of failing the whole of it.
  const safe = (what: string, collect: () => Promise<void>) => async () => {
    try {
      await collect();
    } catch (err) {
      deps.log.warn({ metric: what, err: (err as Error).message }, 'metrics: collect failed');
    }
  };
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'lumbar_api_' });
  const requests = new Counter({
    name: METRIC_NAMES.requests,
    help: 'HTTP requests answered, by method, route and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: METRIC_NAMES.duration,
    help: 'HTTP request duration in seconds, by method and route',
    labelNames: ['method', 'route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  new Gauge({
    name: METRIC_NAMES.studies,
    help: 'Studies by status',
    labelNames: ['status'] as const,
    registers: [registry],
    collect() {
      return safe('studies', async () => {
        for (const [status, n] of Object.entries(await studyCounts(deps.db))) this.set({ status }, n);
      })();
    },
  });
  new Gauge({
    name: METRIC_NAMES.exports,
    help: 'DICOM exports by status',
    labelNames: ['status'] as const,
    registers: [registry],
    collect() {
      return safe('exports', async () => {
        for (const [status, n] of Object.entries(await exportCounts(deps.db))) this.set({ status }, n);
      })();
    },
  });
  new Gauge({
    name: METRIC_NAMES.queue,
    help: 'Jobs in each queue, by state',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    collect() {
      return safe('queues', async () => {
        for (const [queue, counts] of Object.entries(await queueCounts(deps.queues, QUEUE_STATES)))
          for (const [state, n] of Object.entries(counts)) this.set({ queue, state }, n);
      })();
    },
  });
  app.decorate('metricsRegistry', registry);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
}
