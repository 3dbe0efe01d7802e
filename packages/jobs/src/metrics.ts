import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Queues } from './index';

/**
 * Metrics recorded by the receiver, the worker and the exporter, shown by the API's `GET /metrics`.
 *
 * Those services may run in other processes or on other machines (`lumbar serve worker` on a GPU host), and
 * Prometheus scrapes the API only, so what they record is kept in Redis, beside the queues: one hash
 * `<LUMBAR_QUEUE_PREFIX>:metrics` for counters and histograms (they add up across processes) and one hash
 * `<LUMBAR_QUEUE_PREFIX>:metrics:gauges` for per-process gauges (each with the time it was set; the API
 * leaves out those not refreshed for GAUGE_FRESH_MS). docs/API.md lists them.
 *
 * Recording never throws, never waits and never slows the caller: one fire-and-forget MULTI on the queues'
 * own Redis connection; when Redis is down the increment is lost. A Redis that loses its data restarts the
 * counters from 0, which Prometheus's rate() and increase() read as a counter reset.
 */
export const SHARED_METRICS = {
  associations: {
    name: 'lumbar_dicom_associations_total',
    type: 'counter',
    help: 'DICOM associations requested of the receiver, by calling AE title and result (accepted, rejected)',
    labels: ['calling_ae', 'result'],
  },
  instances: {
    name: 'lumbar_dicom_instances_received_total',
    type: 'counter',
    help: 'C-STORE requests answered by the receiver, by calling AE title and DIMSE status (0x0000 stored)',
    labels: ['calling_ae', 'status'],
  },
  receiveToStable: {
    name: 'lumbar_study_receive_to_stable_seconds',
    type: 'histogram',
    help: 'From the last instance of a study received to the worker taking its study.stable job (LUMBAR_STABLE_SECONDS of quiet, its slack, the wait in the queue)',
    labels: [],
    buckets: [1, 2, 5, 10, 15, 20, 30, 45, 60, 120, 300, 600, 1800, 3600],
  },
  inference: {
    name: 'lumbar_inference_duration_seconds',
    type: 'histogram',
    help: 'Time of each stage of a successful analysis as the engine measured it (sagittal: disc segmentation and grading; axial: axial segmentation and classification; fusion), by stage',
    labels: ['stage'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300],
  },
  analysis: {
    name: 'lumbar_analysis_duration_seconds',
    type: 'histogram',
    help: 'One study in the analysis pool, from the call to the answer (waiting for a process and retries included), by outcome (succeeded, failed)',
    labels: ['outcome'],
    buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
  },
  exportDuration: {
    name: 'lumbar_export_duration_seconds',
    type: 'histogram',
    help: 'One export attempt (a C-STORE association to the destination), by destination and outcome (succeeded, failed)',
    labels: ['destination', 'outcome'],
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  },
  exportAttempts: {
    name: 'lumbar_export_attempts_total',
    type: 'counter',
    help: 'Export attempts (C-STORE associations to a destination), by destination',
    labels: ['destination'],
  },
  exportFailures: {
    name: 'lumbar_export_failures_total',
    type: 'counter',
    help: 'Failed export attempts, by destination; final="true" when the export was marked failed (no retry left)',
    labels: ['destination', 'final'],
  },
  processMemory: {
    name: 'lumbar_process_resident_memory_bytes',
    type: 'gauge',
    help: 'Resident memory of each lumbar serve process, by the services it runs and instance (host:pid)',
    labels: ['service', 'instance'],
  },
  processHeap: {
    name: 'lumbar_process_heap_used_bytes',
    type: 'gauge',
    help: 'V8 heap used by each lumbar serve process, by the services it runs and instance (host:pid)',
    labels: ['service', 'instance'],
  },
  analysisProcessMemory: {
    name: 'lumbar_analysis_process_peak_resident_memory_bytes',
    type: 'gauge',
    help: 'Peak resident memory of each analysis process of a worker pool (LUMBAR_ANALYSIS_MEMORY_LIMIT_MB kills it), by worker instance and pool slot',
    labels: ['instance', 'slot'],
  },
} as const satisfies Record<string, SharedMetricDef>;

export interface SharedMetricDef {
  name: string;
  type: 'counter' | 'histogram' | 'gauge';
  help: string;
  labels: readonly string[];
  buckets?: readonly number[];
}

export type SharedMetricKey = keyof typeof SHARED_METRICS;
type LabelsOf<K extends SharedMetricKey> = Record<(typeof SHARED_METRICS)[K]['labels'][number], string>;

/** A gauge not set for this long is left out of /metrics (its process stopped); set every GAUGE_EVERY_MS. */
export const GAUGE_EVERY_MS = 15_000;
export const GAUGE_FRESH_MS = 60_000;
/** A gauge not set for this long is deleted at the next scrape. */
const GAUGE_FORGET_MS = 3_600_000;

/** Label values are AE titles, destinations, host names: short, printable, bounded. */
const cleanLabel = (v: string) =>
  v
    .replace(/[^\x20-\x7e]/g, '?')
    .trim()
    .slice(0, 64) || '(none)';

const field = (name: string, values: readonly string[]) => `${name}\t${JSON.stringify(values)}`;

export const metricsKey = (prefix: string) => `${prefix}:metrics`;
export const gaugesKey = (prefix: string) => `${prefix}:metrics:gauges`;

export interface MetricsRecorder {
  /** Adds to a counter; counts are sent together every COUNTS_EVERY_MS (the receiver counts every instance). */
  inc<K extends SharedMetricKey>(metric: K, labels: LabelsOf<K>, by?: number): void;
  observe<K extends SharedMetricKey>(metric: K, labels: LabelsOf<K>, value: number): void;
  set<K extends SharedMetricKey>(metric: K, labels: LabelsOf<K>, value: number): void;
  /** Sends the counts not sent yet; resolves once Redis has them (or at once when it is not ready). */
  flush(): Promise<void>;
}

/**
 * Counter increments wait this long in the process and go to Redis together, one command per series: one
 * Redis call per received instance was 6% of the receiver's busy time with four associations. A crash loses
 * at most this much of the counts (metrics only; every instance and event is in Postgres).
 */
export const COUNTS_EVERY_MS = 200;

const NOOP: MetricsRecorder = { inc() {}, observe() {}, set() {}, flush: () => Promise.resolve() };
const recorders = new WeakMap<Queues, MetricsRecorder>();

/** The ioredis client the queues were opened with (`openQueues(connection, ...)`), if they were given one. */
function queuesRedis(queues: Queues): Redis | null {
  const c = (queues?.studies as { opts?: { connection?: unknown } } | undefined)?.opts?.connection;
  return c && typeof (c as Redis).multi === 'function' ? (c as Redis) : null;
}

/**
 * The recorder of one installation, on the Redis connection of its queues (no connection of its own).
 * Queues opened without an ioredis client (a fake in a unit test) get one that records nothing.
 */
export function metricsRecorder(queues: Queues): MetricsRecorder {
  if (!queues || typeof queues !== 'object') return NOOP;
  const known = recorders.get(queues);
  if (known) return known;
  const redis = queuesRedis(queues);
  const rec = redis ? redisRecorder(redis, queues.prefix) : NOOP;
  recorders.set(queues, rec);
  return rec;
}

export function redisRecorder(redis: Redis, prefix: string): MetricsRecorder {
  const key = metricsKey(prefix);
  /**
   * Runs one Redis call; callers need not wait for it: down or closing, the metric is lost, the caller not
   * delayed. The promise it returns never rejects (flush() waits on it).
   */
  const fire = (call: () => Promise<unknown>): Promise<unknown> => {
    try {
      if (redis.status !== 'ready') return Promise.resolve();
      return call().catch(() => undefined);
    } catch {
      return Promise.resolve(); /* never in the caller's way */
    }
  };
  /** Several commands in one MULTI/EXEC, so that a histogram's bucket, sum and count move together. */
  const send = (build: (m: ReturnType<Redis['multi']>) => void) =>
    fire(() => {
      const m = redis.multi();
      build(m);
      return m.exec();
    });
  const values = (metric: SharedMetricKey, labels: Record<string, string>) =>
    SHARED_METRICS[metric].labels.map((l: string) => cleanLabel(labels[l] ?? ''));
  // counts not sent yet, by hash field; one timer sends them all
  let counts = new Map<string, number>();
  let timer: NodeJS.Timeout | null = null;
  const flush = async () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (counts.size === 0) return;
    const batch = counts;
    counts = new Map();
    // each HINCRBYFLOAT is atomic on its own: a pipeline, not a MULTI/EXEC
    await fire(() => {
      const p = redis.pipeline();
      for (const [f, by] of batch) p.hincrbyfloat(key, f, by);
      return p.exec();
    });
  };
  return {
    inc(metric, labels, by = 1) {
      const f = field(SHARED_METRICS[metric].name, values(metric, labels));
      counts.set(f, (counts.get(f) ?? 0) + by);
      if (!timer) {
        timer = setTimeout(() => void flush(), COUNTS_EVERY_MS);
        timer.unref();
      }
    },
    flush,
    observe(metric, labels, value) {
      const def: SharedMetricDef = SHARED_METRICS[metric];
      if (!Number.isFinite(value)) return;
      const v = values(metric, labels);
      // Each observation is counted in its own bucket only; the reader makes them cumulative.
      const le = (def.buckets ?? []).find((b) => value <= b);
      send((m) =>
        m
          .hincrby(key, field(`${def.name}_bucket`, [...v, le === undefined ? '+Inf' : String(le)]), 1)
          .hincrbyfloat(key, field(`${def.name}_sum`, v), value)
          .hincrby(key, field(`${def.name}_count`, v), 1),
      );
    },
    set(metric, labels, value) {
      const def = SHARED_METRICS[metric];
      send((m) =>
        m.hset(
          gaugesKey(prefix),
          field(def.name, values(metric, labels)),
          JSON.stringify([value, Date.now()]),
        ),
      );
    },
  };
}

/** One sample line of /metrics: the series name (`_bucket`, `_sum`, `_count` for histograms), labels, value. */
export interface SharedSample {
  metricName: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Everything recorded, by metric name (the API's /metrics). Histogram buckets come out cumulative with every
 * bucket of the definition and `+Inf`, as the exposition format wants. Stale gauges are left out (and, after
 * an hour, deleted).
 */
export async function readSharedMetrics(
  redis: Redis,
  prefix: string,
  now = Date.now(),
): Promise<Map<string, SharedSample[]>> {
  const [counts, gauges] = await Promise.all([
    redis.hgetall(metricsKey(prefix)),
    redis.hgetall(gaugesKey(prefix)),
  ]);
  const out = new Map<string, SharedSample[]>(Object.values(SHARED_METRICS).map((d) => [d.name, []]));
  const raw = new Map<string, number>();
  for (const [f, v] of Object.entries(counts)) raw.set(f, Number(v));
  for (const def of Object.values(SHARED_METRICS) as SharedMetricDef[]) {
    const samples = out.get(def.name)!;
    const parse = (f: string, series: string): string[] | null => {
      if (!f.startsWith(`${series}\t`)) return null;
      try {
        const v = JSON.parse(f.slice(series.length + 1)) as unknown;
        return Array.isArray(v) ? v.map(String) : null;
      } catch {
        return null;
      }
    };
    const named = (values: string[]) => Object.fromEntries(def.labels.map((l, i) => [l, values[i] ?? '']));
    if (def.type === 'counter') {
      for (const [f, v] of raw) {
        const values = parse(f, def.name);
        if (values) samples.push({ metricName: def.name, labels: named(values), value: v });
      }
    } else if (def.type === 'histogram') {
      // label set (JSON of its values) -> count per bucket bound, sum, count
      const sets = new Map<
        string,
        { values: string[]; buckets: Map<string, number>; sum: number; count: number }
      >();
      const setOf = (values: string[]) => {
        const k = JSON.stringify(values);
        if (!sets.has(k)) sets.set(k, { values, buckets: new Map(), sum: 0, count: 0 });
        return sets.get(k)!;
      };
      for (const [f, v] of raw) {
        let values: string[] | null;
        if ((values = parse(f, `${def.name}_bucket`))) {
          const le = values.pop()!;
          const s = setOf(values).buckets;
          s.set(le, (s.get(le) ?? 0) + v);
        } else if ((values = parse(f, `${def.name}_sum`))) setOf(values).sum += v;
        else if ((values = parse(f, `${def.name}_count`))) setOf(values).count += v;
      }
      for (const s of sets.values()) {
        let cumulative = 0;
        for (const b of [...(def.buckets ?? []).map(String), '+Inf']) {
          cumulative += s.buckets.get(b) ?? 0;
          const le = b === '+Inf' ? '+Inf' : String(Number(b));
          samples.push({
            metricName: `${def.name}_bucket`,
            labels: { ...named(s.values), le },
            value: cumulative,
          });
        }
        samples.push({ metricName: `${def.name}_sum`, labels: named(s.values), value: s.sum });
        samples.push({ metricName: `${def.name}_count`, labels: named(s.values), value: s.count });
      }
    } else {
      const forget: string[] = [];
      for (const [f, v] of Object.entries(gauges)) {
        const values = parse(f, def.name);
        if (!values) continue;
        let value: number, at: number;
        try {
          [value, at] = JSON.parse(v) as [number, number];
        } catch {
          continue;
        }
        if (now - at > GAUGE_FORGET_MS) forget.push(f);
        if (now - at <= GAUGE_FRESH_MS) samples.push({ metricName: def.name, labels: named(values), value });
      }
      if (forget.length) await redis.hdel(gaugesKey(prefix), ...forget).catch(() => undefined);
    }
  }
  return out;
}

/** A DIMSE status as the `status` label of lumbar_dicom_instances_received_total: `0x0000`, `0xA700`, ... */
export const dimseStatusLabel = (status: number) => `0x${status.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Sets this process's memory gauges now and every GAUGE_EVERY_MS (`lumbar serve` calls it once); with a worker,
 * also the peak memory of each of its analysis processes. Returns the function that stops it.
 */
export function startProcessGauges(
  queues: Queues,
  services: readonly string[],
  analysisProcesses?: () => readonly { peakRssMb: number }[],
): () => void {
  const rec = metricsRecorder(queues);
  const instance = `${hostname()}:${process.pid}`;
  const service = services.join(',');
  const tick = () => {
    const m = process.memoryUsage();
    rec.set('processMemory', { service, instance }, m.rss);
    rec.set('processHeap', { service, instance }, m.heapUsed);
    analysisProcesses?.().forEach((p, slot) =>
      rec.set('analysisProcessMemory', { instance, slot: String(slot) }, p.peakRssMb * 1048576),
    );
  };
  tick();
  const timer = setInterval(tick, GAUGE_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
