import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Api } from '../deps';

/**
 * What the route schemas cannot enforce by themselves, found by schema fuzzing (scripts/api-schemathesis.sh,
 * docs/API.md "Schema fuzzing"):
 *
 * - A method that a known path does not have gets **405** with `Allow` (RFC 9110), not the 404 of an unknown
 *   route, nor the 400 Fastify gives a QUERY without Content-Type. It is answered in onRequest, before any
 *   body is read and before the API key is checked: it tells no more than the OpenAPI document does.
 * - An integer in the path or the query string must be written in decimal digits. Ajv's type coercion alone
 *   reads `0x10`, `1e1`, ` 1`, `+1` or `1.0` as numbers, so `/studies/0x1` was study 1.
 */
export function installInputChecks(app: Api): void {
  /** Every route pattern (as a regular expression) with the methods it has. */
  const patterns = new Map<string, { re: RegExp; methods: Set<string> }>();

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    let entry = patterns.get(route.url);
    if (!entry) {
      entry = { re: patternRegex(route.url), methods: new Set() };
      patterns.set(route.url, entry);
    }
    for (const m of methods) entry.methods.add(m.toUpperCase());
    addIntegerCheck(route);
  });

  app.addHook('onRequest', async (request, reply) => {
    // Only requests that matched no route: a known path with another method, or an unknown path (404).
    if (!request.is404) return;
    const pathname = request.url.split('?')[0];
    const allowed = new Set<string>();
    for (const { re, methods } of patterns.values()) {
      if (re.test(pathname)) for (const m of methods) allowed.add(m);
    }
    // No route has this path, or one has it with this very method but the router still refused the path
    // (a parameter longer than maxParamLength, 100): the not-found handler answers 404.
    if (allowed.size === 0 || allowed.has(request.method)) return;
    return methodNotAllowed(request, reply, [...allowed].sort());
  });
}

function methodNotAllowed(request: FastifyRequest, reply: FastifyReply, allow: string[]) {
  return reply
    .status(405)
    .header('allow', allow.join(', '))
    .send({
      statusCode: 405,
      error: 'Method Not Allowed',
      code: 'METHOD_NOT_ALLOWED',
      message: `${request.method} is not allowed on ${request.url.split('?')[0]}: use ${allow.join(', ')}`,
    });
}

/**
 * A Fastify route pattern as a regular expression over the raw path: `:name` is one path segment (up to the
 * static text that follows it, as in `:n.png`), `*` anything, and a trailing slash is ignored (the app's
 * `ignoreTrailingSlash`).
 */
export function patternRegex(url: string): RegExp {
  const body = url
    .split(/(:[A-Za-z0-9_]+|\*)/)
    .map((part) => {
      if (part === '*') return '.*';
      if (part.startsWith(':')) return '[^/]+';
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return new RegExp(`^${body.replace(/\/$/, '')}/?$`);
}

const DECIMAL_INTEGER = /^-?[0-9]+$/;

interface ObjectSchema {
  properties?: Record<string, { type?: unknown }>;
}

/** The names of the integer properties of a params or querystring schema. */
function integerKeys(schema: unknown): string[] {
  const props = (schema as ObjectSchema | undefined)?.properties ?? {};
  return Object.keys(props).filter((k) => props[k]?.type === 'integer');
}

/**
 * Adds a preValidation hook (it runs before Ajv coerces the strings) to a route with integer parameters:
 * each one given must be decimal digits, else 400 VALIDATION, in Ajv's words.
 */
function addIntegerCheck(route: RouteOptions): void {
  const where = {
    params: integerKeys(route.schema?.params),
    querystring: integerKeys(route.schema?.querystring),
  };
  if (where.params.length === 0 && where.querystring.length === 0) return;
  const check = async (request: FastifyRequest) => {
    const values = {
      params: request.params as Record<string, unknown>,
      querystring: request.query as Record<string, unknown>,
    };
    for (const part of ['params', 'querystring'] as const) {
      for (const key of where[part]) {
        const v = values[part]?.[key];
        // Not given, or given twice (an array): Ajv answers those.
        if (typeof v !== 'string' || DECIMAL_INTEGER.test(v)) continue;
        const message = `${part}/${key} must be an integer in decimal digits`;
        throw Object.assign(new Error(message), {
          statusCode: 400,
          validation: [{ instancePath: `/${key}`, message: 'must be an integer in decimal digits' }],
          validationContext: part,
        });
      }
    }
  };
  const existing = route.preValidation;
  route.preValidation = existing ? [...(Array.isArray(existing) ? existing : [existing]), check] : [check];
}
