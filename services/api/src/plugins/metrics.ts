import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { lastStudyReceivedAt } from '@lumbar/db';
import { readSharedMetrics, SHARED_METRICS, type SharedMetricDef, type SharedSample } from '@lumbar/jobs';
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
  lastInstance: 'lumbar_last_instance_received_timestamp_seconds',
  // recorded by the receiver, the worker and the exporter in Redis (packages/jobs/src/metrics.ts)
  ...(Object.fromEntries(Object.entries(SHARED_METRICS).map(([k, d]) => [k, d.name])) as {
    [K in keyof typeof SHARED_METRICS]: (typeof SHARED_METRICS)[K]['name'];
  }),
} as const;

/** How long one read of the shared metrics serves the scrape (every shared metric asks for it at once). */
const SHARED_READ_MS = 1000;

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'prioritized'] as const;

/**
 * Prometheus metrics in a registry of this app's own (several apps may live in one process): HTTP requests
 * by route and status; at scrape time studies and exports by status, the depth of each queue and when the last
 * instance came (Postgres and BullMQ); and what the receiver, the worker and the exporter recorded in Redis
 * wherever they run (SHARED_METRICS: associations and instances by calling AE and status, stage durations,
 * export attempts and failures by destination, process memory). docs/API.md, "Operations", lists them all.
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
  new Gauge({
    name: METRIC_NAMES.lastInstance,
    help: 'When the last DICOM instance was received (Unix time, seconds; 0 when none ever was)',
    registers: [registry],
    collect() {
      return safe('last instance', async () => {
        // studies.last_received_at, not instances.received_at: the studies table is far smaller
        const last = await lastStudyReceivedAt(deps.db);
        this.set(last ? last.getTime() / 1000 : 0);
      })();
    },
  });
  installSharedMetrics(registry, deps);
  app.decorate('metricsRegistry', registry);
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    duration.observe({ method: request.method, route }, reply.elapsedTime / 1000);
  });
}

/**
 * The metrics that other services record in Redis (packages/jobs/src/metrics.ts), as metrics of this registry:
 * each one reads the hashes at scrape time (once per scrape for all of them). With Redis down they are left
 * empty (their HELP and TYPE only) and a warning is logged, as for the gauges above.
 */
function installSharedMetrics(registry: Registry, deps: ApiDeps): void {
  let last: { at: number; read: Promise<Map<string, SharedSample[]> | null> } | null = null;
  const read = () => {
    if (!last || Date.now() - last.at > SHARED_READ_MS) {
      last = {
        at: Date.now(),
        read: readSharedMetrics(deps.redis, deps.queues.prefix).catch((err: unknown) => {
          deps.log.warn({ metric: 'shared', err: (err as Error).message }, 'metrics: collect failed');
          return null;
        }),
      };
    }
    return last.read;
  };
  for (const def of Object.values(SHARED_METRICS) as SharedMetricDef[]) {
    // prom-client's registry formats any object with a name, help, type and get(): the samples as they are.
    const metric = {
      name: def.name,
      help: def.help,
      type: def.type,
      aggregator: 'sum',
      reset() {},
      async get() {
        const samples = (await read())?.get(def.name) ?? [];
        return { name: def.name, help: def.help, type: def.type, aggregator: 'sum', values: samples };
      },
    };
    registry.registerMetric(metric as unknown as Metric);
  }
}
