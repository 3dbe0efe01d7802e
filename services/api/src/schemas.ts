import { InputError } from '@lumbar/core';
import { Type, type TSchema } from 'typebox';

/** Reusable TypeBox schemas: the same shapes validate requests, serialise responses and fill OpenAPI. */
export const Nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()]);

export const DateTime = Type.String({ format: 'date-time' });

/** The earliest instant Postgres stores from an RFC 3339 date-time: it has no year 0 (0000 is 1 BC). */
const EARLIEST = Date.parse('0001-01-01T00:00:00Z');
const LEAP_SECOND = /:60(?=(\.[0-9]+)?(z|[+-][0-9]{2}:[0-9]{2})$)/i;

/**
 * The instant of a date-time query parameter that passed the schema (`format: date-time`, RFC 3339), for a
 * database filter. Schema fuzzing found two schema-valid values that made a 500: a leap second
 * (`2016-12-31T23:59:60Z`, which `Date` cannot parse: it is read as the next second) and the year 0000
 * (or 0001-01-01 with a positive offset), before anything Postgres stores: it is read as 0001-01-01, which
 * selects the same rows.
 */
export function instantOf(value: string): Date {
  const ms = LEAP_SECOND.test(value)
    ? Date.parse(value.replace(LEAP_SECOND, ':59')) + 1000
    : Date.parse(value);
  if (Number.isNaN(ms)) throw new InputError(`not a date-time: ${JSON.stringify(value.slice(0, 40))}`);
  return new Date(Math.max(ms, EARLIEST));
}

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
  // Bounded: an offset past 2^63 made Prisma throw (500); nothing has 2^31 rows to skip.
  offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, default: 0 })),
};

/** Page cursors are base64url (cursor.ts): the schema of a cursor parameter allows that alphabet only. */
export const CURSOR_PATTERN = '^[A-Za-z0-9_-]*$';

/**
 * Free text that reaches a database query (the audit filters): no control characters. Postgres refuses a NUL
 * in text, which made a 500 (schema fuzzing); no stored action or actor holds one.
 */
export const PRINTABLE_PATTERN = '^[^\\u0000-\\u001F\\u007F]*$';

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
