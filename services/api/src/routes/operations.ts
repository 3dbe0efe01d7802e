import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { pingDatabase } from '@lumbar/db';
import { Type } from 'typebox';
import type { RouteOptions } from '../deps';
import { AUTH_ERRORS, errors } from '../schemas';

const Check = Type.Enum(['ok', 'failed']);

/** Resolves with what `check` gives, or rejects after `ms`: a hung dependency must not hang /readyz. */
async function within<T>(ms: number, check: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      check(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** GET /healthz, /readyz, /metrics and /openapi.json. */
export const operationRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { deps }) => {
  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        tags: ['operations'],
        summary: 'Liveness: the process answers',
        security: [],
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  const Readiness = Type.Object({
    status: Type.Enum(['ok', 'unavailable']),
    checks: Type.Object({ postgres: Check, redis: Check }),
  });
  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        tags: ['operations'],
        summary: 'Readiness: Postgres answers SELECT 1 and Redis answers PING',
        security: [],
        response: {
          200: Type.Object(Readiness.properties, { description: 'ready' }),
          503: Type.Object(Readiness.properties, { description: 'a dependency failed: see checks' }),
        },
      },
    },
    async (request, reply) => {
      const probe = async (name: string, check: () => Promise<unknown>) => {
        try {
          await within(2000, check);
          return 'ok' as const;
        } catch (err) {
          request.log.warn({ dependency: name, err: (err as Error).message }, 'readiness check failed');
          return 'failed' as const;
        }
      };
      const [postgres, redis] = await Promise.all([
        probe('postgres', () => pingDatabase(deps.db)),
        probe('redis', () => deps.redis.ping()),
      ]);
      const ok = postgres === 'ok' && redis === 'ok';
      return reply
        .status(ok ? 200 : 503)
        .send({ status: ok ? 'ok' : 'unavailable', checks: { postgres, redis } });
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format)',
        response: {
          200: { description: 'Prometheus text', content: { 'text/plain': { schema: Type.String() } } },
          ...errors(...AUTH_ERRORS),
        },
      },
    },
    async (_request, reply) => {
      const registry = app.metricsRegistry;
      return reply.type(registry.contentType).send(await registry.metrics());
    },
  );

  app.get(
    '/openapi.json',
    {
      config: { public: true },
      schema: {
        tags: ['operations'],
        summary: 'This OpenAPI document',
        security: [],
        response: {
          200: Type.Object({}, { additionalProperties: true, description: 'OpenAPI 3.1 document' }),
        },
      },
    },
    async () => app.swagger() as unknown as Record<string, unknown>,
  );
};
