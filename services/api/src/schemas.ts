import { Type, type TSchema } from 'typebox';

/** Reusable TypeBox schemas: the same shapes validate requests, serialise responses and fill OpenAPI. */
export const Nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()]);

export const DateTime = Type.String({ format: 'date-time' });

export const STUDY_STATUSES = ['receiving', 'queued', 'analyzing', 'analyzed', 'failed'] as const;
export const EXPORT_STATUSES = ['pending', 'sending', 'succeeded', 'failed'] as const;

export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  code: Type.String(),
  message: Type.String(),
});

const ERROR_TEXT: Record<number, string> = {
  400: 'Bad request: invalid parameters',
  401: 'No API key, or not a valid one',
  403: 'The API key lacks the scope this route needs',
  404: 'Not found',
  409: 'Conflicts with the current state',
  500: 'Internal error',
  503: 'A dependency (database, queue) is unavailable',
};

/** The error responses of a route, one schema per status code (each with its own description). */
export function errors(...codes: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(
    codes.map((c) => [c, Type.Object(ErrorBody.properties, { description: ERROR_TEXT[c] ?? 'Error' })]),
  );
}

/** The errors of every route that needs an API key. */
export const AUTH_ERRORS = [400, 401, 403, 500, 503];

export const IdParams = Type.Object({ id: Type.Integer({ minimum: 1, maximum: 2 ** 31 - 1 }) });

export const Paging = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
};

export const Algorithm = Type.Object({ name: Type.String(), version: Type.String() });

export const Probabilities = Type.Record(Type.String(), Type.Number(), {
  description: 'class name -> probability (0..1)',
});

export const Level = Type.Object({
  level: Type.String({ description: 'disc level, e.g. L4-L5' }),
  diagnosis: Type.String({ description: 'healthy, bulge, central, left or right' }),
  probabilities: Probabilities,
  reason: Nullable(Type.String({ description: 'why a level has no diagnosis, when it has none' })),
});

/** A binary body (DICOM, PNG) described for OpenAPI; the handler sends a Buffer, never serialised. */
export function binary(contentType: string, description: string) {
  return {
    description,
    content: { [contentType]: { schema: Type.Unsafe<Buffer>({ type: 'string', format: 'binary' }) } },
  };
}
