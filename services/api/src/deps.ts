import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config, Logger } from '@lumbar/core';
import type { ApiScope, PrismaClient } from '@lumbar/db';
import type { Queues, redisConnection } from '@lumbar/jobs';

/** What the API needs from the outside: every piece of I/O comes in here, nothing is global. */
export interface ApiDeps {
  config: Config;
  db: PrismaClient;
  queues: Queues;
  /** The ioredis client that /readyz pings (the one the queues use, as a rule). */
  redis: ReturnType<typeof redisConnection>;
  log: Logger;
}

/** The Fastify instance with the TypeBox type provider: route schemas type the handlers. */
export type Api = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** Options of every route plugin. */
export interface RouteOptions {
  deps: ApiDeps;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without an API key (health, readiness, the OpenAPI document). */
    public?: boolean;
    /** The scope the route needs, when not the default (read for GET and HEAD, admin otherwise). */
    scope?: ApiScope;
  }
  interface FastifyRequest {
    /** Who made the request, for the audit trail: `api-key:<prefix>` (never the key itself). */
    actor: string;
  }
}
