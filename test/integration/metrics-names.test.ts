/**
 * GET /metrics against a test database and Redis: what it exports follows Prometheus's naming conventions,
 * what the receiver, worker and exporter record in Redis shows up in it, and every metric that a PromQL query
 * of the alert rules (deploy/prometheus) or of the Grafana dashboard (deploy/grafana) names is one it exports.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { parse as parseYaml } from 'yaml';
import { recordInstance } from '@lumbar/db';
import {
  metricsKey,
  gaugesKey,
  metricsRecorder,
  openQueues,
  redisConnection,
  SHARED_METRICS,
  type Queues,
} from '@lumbar/jobs';
import { METRIC_NAMES, startApi, type RunningApi } from '@lumbar/api';
import { createApiKey } from '@lumbar/db';
import { useTestDatabase } from '../helpers/db';
import { testConfig } from '../helpers/services';
import { mrInstance } from '../helpers/seed';

const ROOT = path.join(__dirname, '..', '..');
const t = useTestDatabase();

let redis: ReturnType<typeof redisConnection>;
let queues: Queues;
let api: RunningApi;
let prefix: string;
let text = '';
/** metric family name -> type, from the `# TYPE` lines */
const families = new Map<string, string>();

/** Every series name a PromQL query may use for what we export (histograms: _bucket, _sum, _count). */
function exportedSeries(): Set<string> {
  const out = new Set<string>();
  for (const [name, type] of families) {
    out.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) out.add(name + s);
  }
  return out;
}

const PROMQL_WORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
  'Inf',
  'NaN',
]);

/** The metric names a PromQL expression reads: identifiers that are not functions, keywords or label names. */
function promqlMetricNames(expr: string): string[] {
  const s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // strings (label values, regexes)
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges and subqueries ([5m], [$__rate_interval], [1h:1m])
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\$\w+/g, ' ') // Grafana variables
    .replace(/(^|[^\w.])\d+(\.\d+)?([eE][+-]?\d+)?[smhdwy]?\b/g, '$1 '); // numbers, durations
  const names = [...s.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)]
    .filter((m) => !/^\s*\(/.test(s.slice(m.index + m[0].length))) // not a function call
    .map((m) => m[0]);
  return [...new Set(names.filter((n) => !PROMQL_WORDS.has(n)))];
}

/** Every PromQL query of the alert rules: [where, expr]. */
function ruleQueries(): [string, string][] {
  const dir = path.join(ROOT, 'deploy/prometheus');
  const out: [string, string][] = [];
  for (const f of readdirSync(dir).filter((f) => /alerts\.ya?ml$/.test(f))) {
    const doc = parseYaml(readFileSync(path.join(dir, f), 'utf8')) as {
      groups: { name: string; rules: { alert?: string; record?: string; expr: string }[] }[];
    };
    for (const g of doc.groups)
      for (const r of g.rules) out.push([`${f} ${r.alert ?? r.record}`, String(r.expr)]);
  }
  return out;
}

/** Every PromQL query of the Grafana dashboards: panel targets and query variables. */
function dashboardQueries(): [string, string][] {
  const dir = path.join(ROOT, 'deploy/grafana');
  const out: [string, string][] = [];
  type Panel = { title?: string; targets?: { expr?: string }[]; panels?: Panel[] };
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const dash = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as {
      panels: Panel[];
      templating?: { list: { name: string; type: string; query?: string | { query: string } }[] };
    };
    const walk = (panels: Panel[]) => {
      for (const p of panels) {
        for (const tg of p.targets ?? []) if (tg.expr) out.push([`${f} "${p.title}"`, tg.expr]);
        walk(p.panels ?? []);
      }
    };
    walk(dash.panels);
    for (const v of dash.templating?.list ?? []) {
      if (v.type !== 'query') continue;
      const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
      // label_values(metric, label): only its first argument is a metric
      const lv = /^label_values\(\s*([^,)]+)/.exec(q);
      out.push([`${f} variable ${v.name}`, lv ? lv[1] : q]);
    }
  }
  return out;
}

beforeAll(async () => {
  const config = testConfig(t.url);
  prefix = config.queuePrefix;
  redis = redisConnection(config.redisUrl, 'producer');
  queues = openQueues(redis, config.queuePrefix);
  await queues.studies.waitUntilReady();
  const reader = (await createApiKey(t.db, ['read'], 'prometheus')).key;
  await recordInstance(
    t.db,
    mrInstance('1.2.826.0.1.3680043.10.543.901', { path: '/nowhere/901.dcm', callingAeTitle: 'MODALITY1' }),
  );
  // What the receiver, the worker and the exporter record (their hooks call exactly these).
  const rec = metricsRecorder(queues);
  rec.inc('associations', { calling_ae: 'MODALITY1', result: 'accepted' });
  rec.inc('associations', { calling_ae: 'INTRUDER', result: 'rejected' });
  rec.inc('instances', { calling_ae: 'MODALITY1', status: '0x0000' });
  rec.inc('instances', { calling_ae: 'MODALITY1', status: '0x0000' });
  rec.inc('instances', { calling_ae: 'MODALITY1', status: '0xA700' });
  rec.observe('receiveToStable', {}, 16.2);
  rec.observe('inference', { stage: 'sagittal' }, 0.8);
  rec.observe('inference', { stage: 'axial' }, 1.7);
  rec.observe('analysis', { outcome: 'succeeded' }, 3.1);
  rec.observe('analysis', { outcome: 'succeeded' }, 700); // past the last bucket: +Inf only
  rec.inc('exportAttempts', { destination: 'PACS@10.0.0.5:104' });
  rec.inc('exportFailures', { destination: 'PACS@10.0.0.5:104', final: 'true' });
  rec.observe('exportDuration', { destination: 'PACS@10.0.0.5:104', outcome: 'failed' }, 0.3);
  rec.set('processMemory', { service: 'worker', instance: 'host-a:42' }, 123456789);
  rec.set('processHeap', { service: 'worker', instance: 'host-a:42' }, 2345678);
  rec.set('analysisProcessMemory', { instance: 'host-a:42', slot: '0' }, 600 * 1048576);
  // a gauge of a process gone for more than a minute is left out
  await redis.hset(
    gaugesKey(prefix),
    `${SHARED_METRICS.processMemory.name}\t${JSON.stringify(['receiver', 'gone:1'])}`,
    JSON.stringify([1, Date.now() - 120_000]),
  );
  await rec.flush(); // the counts (sent together every COUNTS_EVERY_MS)
  await redis.ping(); // the recorder's MULTIs went out before this answer

  api = await startApi({
    config,
    db: t.db,
    queues,
    redis,
    log: pino({ level: 'silent' }),
  });
  const res = await fetch(`http://127.0.0.1:${api.port}/metrics`, {
    headers: { authorization: `Bearer ${reader}` },
  });
  expect(res.status).toBe(200);
  text = await res.text();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) families.set(m[1], m[2]);
});

afterAll(async () => {
  await api?.close();
  await redis?.del(metricsKey(prefix), gaugesKey(prefix)).catch(() => undefined);
  await queues?.studies.obliterate({ force: true }).catch(() => undefined);
  await queues?.exports.obliterate({ force: true }).catch(() => undefined);
  await queues?.close();
  redis?.disconnect();
});

describe('GET /metrics', () => {
  it('exports every metric of METRIC_NAMES, each lumbar_ name following the Prometheus conventions', () => {
    for (const name of Object.values(METRIC_NAMES)) expect([name, families.has(name)]).toEqual([name, true]);
    // prom-client's default process metrics keep their standard names (nodejs_active_resources_total is a gauge)
    const defaults = (n: string) => n.startsWith('lumbar_api_process_') || n.startsWith('lumbar_api_nodejs_');
    const ours = [...families].filter(([n]) => n.startsWith('lumbar_') && !defaults(n));
    expect(ours.length).toBeGreaterThanOrEqual(Object.keys(METRIC_NAMES).length);
    for (const [name, type] of ours) {
      const problems: string[] = [];
      if (!/^lumbar_[a-z][a-z0-9_]*[a-z0-9]$/.test(name)) problems.push('not snake_case');
      if (type === 'counter' && !name.endsWith('_total')) problems.push('a counter must end in _total');
      if (type !== 'counter' && name.endsWith('_total')) problems.push('only counters end in _total');
      if (type === 'histogram' && !/_(seconds|bytes)$/.test(name)) problems.push('histogram without a unit');
      if (/duration|_time|latency/.test(name) && !/_seconds(_total)?$/.test(name))
        problems.push('time not in seconds');
      if (/memory|heap|size/.test(name) && !/_bytes(_total)?$/.test(name))
        problems.push('memory not in bytes');
      if (/timestamp/.test(name) && !name.endsWith('_timestamp_seconds'))
        problems.push('timestamp not in seconds');
      expect({ name, problems }).toEqual({ name, problems: [] });
    }
  });

  it('shows what the other services recorded in Redis, histograms cumulative, stale gauges left out', () => {
    expect(text).toContain('lumbar_dicom_associations_total{calling_ae="MODALITY1",result="accepted"} 1');
    expect(text).toContain('lumbar_dicom_associations_total{calling_ae="INTRUDER",result="rejected"} 1');
    expect(text).toContain('lumbar_dicom_instances_received_total{calling_ae="MODALITY1",status="0x0000"} 2');
    expect(text).toContain('lumbar_dicom_instances_received_total{calling_ae="MODALITY1",status="0xA700"} 1');
    expect(text).toContain('lumbar_study_receive_to_stable_seconds_bucket{le="15"} 0');
    expect(text).toContain('lumbar_study_receive_to_stable_seconds_bucket{le="20"} 1');
    expect(text).toContain('lumbar_study_receive_to_stable_seconds_bucket{le="+Inf"} 1');
    expect(text).toContain('lumbar_study_receive_to_stable_seconds_sum 16.2');
    expect(text).toContain('lumbar_inference_duration_seconds_bucket{stage="axial",le="2"} 1');
    expect(text).toContain('lumbar_inference_duration_seconds_bucket{stage="axial",le="1"} 0');
    expect(text).toContain('lumbar_analysis_duration_seconds_bucket{outcome="succeeded",le="600"} 1');
    expect(text).toContain('lumbar_analysis_duration_seconds_bucket{outcome="succeeded",le="+Inf"} 2');
    expect(text).toContain('lumbar_analysis_duration_seconds_count{outcome="succeeded"} 2');
    expect(text).toContain('lumbar_export_attempts_total{destination="PACS@10.0.0.5:104"} 1');
    expect(text).toContain('lumbar_export_failures_total{destination="PACS@10.0.0.5:104",final="true"} 1');
    expect(text).toContain(
      'lumbar_export_duration_seconds_count{destination="PACS@10.0.0.5:104",outcome="failed"} 1',
    );
    expect(text).toContain(
      'lumbar_process_resident_memory_bytes{service="worker",instance="host-a:42"} 123456789',
    );
    expect(text).toContain('lumbar_process_heap_used_bytes{service="worker",instance="host-a:42"} 2345678');
    expect(text).toContain(
      `lumbar_analysis_process_peak_resident_memory_bytes{instance="host-a:42",slot="0"} ${600 * 1048576}`,
    );
    expect(text).not.toContain('gone:1');
  });

  it('reads studies, the last instance and queue depths from Postgres and BullMQ at scrape time', async () => {
    const study = await t.db.study.findFirstOrThrow();
    expect(text).toContain('lumbar_studies{status="receiving"} 1');
    const m = /^lumbar_last_instance_received_timestamp_seconds (\S+)$/m.exec(text);
    expect(Number(m?.[1])).toBeCloseTo(study.lastReceivedAt.getTime() / 1000, 2);
    expect(text).toMatch(/^lumbar_queue_jobs\{queue="lumbar-studies",state="waiting"\} 0$/m);
    expect(text).toContain('# TYPE lumbar_api_process_resident_memory_bytes gauge');
  });

  it('exports every metric that an alert rule or a dashboard query names', () => {
    const series = exportedSeries();
    const queries = [...ruleQueries(), ...dashboardQueries()];
    expect(queries.length).toBeGreaterThan(20);
    const allowed = new Set(['up']); // Prometheus's own, per target
    const missing: string[] = [];
    let named = 0;
    for (const [where, expr] of queries) {
      for (const name of promqlMetricNames(expr)) {
        named++;
        if (!series.has(name) && !allowed.has(name)) missing.push(`${where}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
    expect(named).toBeGreaterThan(queries.length - 1);
  });

  it('exports every metric that the alerts mention in their text, and docs/API.md lists them all', () => {
    const series = exportedSeries();
    const alerts = readFileSync(path.join(ROOT, 'deploy/prometheus/lumbar-alerts.yml'), 'utf8');
    for (const [name] of alerts.matchAll(/\blumbar_[a-z0-9_]+/g))
      expect([name, series.has(name)]).toEqual([name, true]);
    const doc = readFileSync(path.join(ROOT, 'docs/API.md'), 'utf8');
    const documented = (n: string) =>
      doc.includes(`\`${n}\``) || n.startsWith('lumbar_api_process_') || n.startsWith('lumbar_api_nodejs_');
    for (const name of families.keys())
      if (name.startsWith('lumbar_')) expect([name, documented(name)]).toEqual([name, true]);
  });

  it('finds the metric names of PromQL queries', () => {
    expect(
      promqlMetricNames(
        'histogram_quantile(0.95, sum by (le, stage) (rate(lumbar_inference_duration_seconds_bucket{stage=~"a|b"}[$__rate_interval])))',
      ),
    ).toEqual(['lumbar_inference_duration_seconds_bucket']);
    expect(
      promqlMetricNames(
        '(time() - max(lumbar_last_instance_received_timestamp_seconds)) > 4 * 3600 and on () (hour() >= 7 < 19)',
      ),
    ).toEqual(['lumbar_last_instance_received_timestamp_seconds']);
    expect(promqlMetricNames('delta(max(lumbar_studies{status="failed"})[1h:1m]) > 0 or up == 0')).toEqual([
      'lumbar_studies',
      'up',
    ]);
    expect(promqlMetricNames('sum(rate(a_total[5m])) / ignoring(x) sum(rate(b_total[5m])) > 1e3')).toEqual([
      'a_total',
      'b_total',
    ]);
  });
});
