import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { LumbarError } from '@lumbar/core';
import type { Api } from '../deps';

/** 401 and 403: an API key is missing or invalid, or lacks the scope of the route. */
export class AuthError extends LumbarError {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', message);
    this.name = 'AuthError';
  }
}

const STATUS_OF_CODE: Record<string, number> = {
  BAD_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNAVAILABLE: 503,
};

const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

interface Answer {
  status: number;
  code: string;
  message: string;
}

/** Maps anything thrown to the answer a client sees: only our own errors and 4xx keep their message. */
export function classify(err: unknown): Answer {
  if (err instanceof AuthError) return { status: err.status, code: err.code, message: err.message };
  if (err instanceof LumbarError && STATUS_OF_CODE[err.code]) {
    return { status: STATUS_OF_CODE[err.code], code: err.code, message: err.message };
  }
  const fe = err as Partial<FastifyError>;
  if (fe && fe.validation)
    return { status: 400, code: 'VALIDATION', message: fe.message ?? 'invalid request' };
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, code: fe.code ?? 'BAD_REQUEST', message: fe.message ?? 'bad request' };
  }
  return { status: 500, code: 'INTERNAL', message: 'internal server error' };
}

/**
 * Fastify's `frameworkErrors`: what the router refuses before any route runs, in the API's error body. A
 * path parameter over `maxParamLength` (100 characters) was a bare 414 that no route documents, and a bad
 * percent-encoding a bare 400 (both found by schema fuzzing): both are 400 now, with a sentence.
 */
export function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const message =
    err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? 'a path parameter is longer than 100 characters'
      : err.code === 'FST_ERR_BAD_URL'
        ? 'the path is not valid (bad percent-encoding)'
        : 'the request could not be routed';
  void reply.status(400).send({ statusCode: 400, error: REASON[400], code: 'VALIDATION', message });
}

/** The one error handler and the 404 answer for unknown routes. Stacks never leave the process. */
export function installErrorHandler(app: Api): void {
  app.setErrorHandler((err, request, reply) => {
    const a = classify(err);
    if (a.status >= 500) {
      // The message and type only: request bodies and parameters (which may name patients) stay out.
      const e = err as Error & { code?: unknown };
      request.log.error(
        { err: { type: e.name, code: e.code, message: e.message }, route: request.routeOptions.url },
        'request failed',
      );
    }
    if (a.status === 401) void reply.header('www-authenticate', 'Bearer realm="lumbar-ai"');
    return reply
      .status(a.status)
      .send({ statusCode: a.status, error: REASON[a.status] ?? 'Error', code: a.code, message: a.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      statusCode: 404,
      error: 'Not Found',
      code: 'NOT_FOUND',
      message: `no route ${request.method} ${request.url.split('?')[0]}`,
    }),
  );
}
