/**
 * Counter increments are kept in the process and sent to Redis together (one command per series every
 * COUNTS_EVERY_MS, or at flush() and when the queues close), against the real Redis: none is lost or counted twice.
 */
import { randomUUID } from 'node:crypto';
import {
  COUNTS_EVERY_MS,
  metricsKey,
  metricsRecorder,
  openQueues,
  redisConnection,
  redisRecorder,
} from '@lumbar/jobs';
import { testConfig } from '../helpers/services';

const config = testConfig('postgresql://unused');
let redis: ReturnType<typeof redisConnection>;
const prefixes: string[] = [];
const fresh = () => {
  const p = `lumbar-test-counts-${randomUUID()}`;
  prefixes.push(p);
  return p;
};
const ready = (r: ReturnType<typeof redisConnection>) =>
  r.status === 'ready' ? Promise.resolve() : new Promise((resolve) => r.once('ready', resolve));
const series = (name: string, labels: string[]) => `${name}\t${JSON.stringify(labels)}`;

beforeAll(async () => {
  redis = redisConnection(config.redisUrl, 'producer');
  await ready(redis);
});
afterAll(async () => {
  for (const p of prefixes) {
    const keys = await redis.keys(`${p}:*`);
    if (keys.length) await redis.del(...keys);
  }
  redis.disconnect();
});

describe('counters', () => {
  it('are sent together: nothing before the flush, the exact sums after it', async () => {
    const prefix = fresh();
    const rec = redisRecorder(redis, prefix);
    for (let i = 0; i < 250; i++) rec.inc('instances', { calling_ae: 'CT1', status: '0x0000' });
    rec.inc('instances', { calling_ae: 'CT1', status: '0xA700' });
    rec.inc('associations', { calling_ae: 'CT1', result: 'accepted' }, 3);
    expect(await redis.hgetall(metricsKey(prefix))).toEqual({});
    await rec.flush();
    expect(await redis.hgetall(metricsKey(prefix))).toEqual({
      [series('lumbar_dicom_instances_received_total', ['CT1', '0x0000'])]: '250',
      [series('lumbar_dicom_instances_received_total', ['CT1', '0xA700'])]: '1',
      [series('lumbar_dicom_associations_total', ['CT1', 'accepted'])]: '3',
    });
    // a second flush with nothing new adds nothing
    await rec.flush();
    rec.inc('instances', { calling_ae: 'CT1', status: '0x0000' });
    await rec.flush();
    expect(
      await redis.hget(
        metricsKey(prefix),
        series('lumbar_dicom_instances_received_total', ['CT1', '0x0000']),
      ),
    ).toBe('251');
  });

  it('go out on their own after COUNTS_EVERY_MS', async () => {
    const prefix = fresh();
    const rec = redisRecorder(redis, prefix);
    rec.inc('exportAttempts', { destination: 'PACS@host:104' });
    const field = series('lumbar_export_attempts_total', ['PACS@host:104']);
    const deadline = Date.now() + COUNTS_EVERY_MS + 5000;
    let value: string | null = null;
    while (value === null && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      value = await redis.hget(metricsKey(prefix), field);
    }
    expect(value).toBe('1');
  });

  it('still waiting when the queues close are sent before Redis goes', async () => {
    const prefix = fresh();
    const own = redisConnection(config.redisUrl, 'producer');
    await ready(own);
    const queues = openQueues(own, prefix);
    metricsRecorder(queues).inc('instances', { calling_ae: 'MR1', status: '0x0000' }, 2);
    await queues.close();
    own.disconnect();
    expect(
      await redis.hget(
        metricsKey(prefix),
        series('lumbar_dicom_instances_received_total', ['MR1', '0x0000']),
      ),
    ).toBe('2');
  });
});
