import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { InputError } from '@lumbar/core';
import { audit, AUDIT_ACTIONS, listAuditEvents } from '@lumbar/db';
import { Type } from 'typebox';
import { decodeAuditCursor, encodeAuditCursor } from '../cursor';
import type { RouteOptions } from '../deps';
import {
  AUTH_ERRORS,
  CURSOR_PATTERN,
  DateTime,
  errors,
  instantOf,
  Nullable,
  PRINTABLE_PATTERN,
} from '../schemas';

const AuditEventItem = Type.Object({
  id: Type.Integer(),
  at: DateTime,
  actor: Type.String({
    description: 'who: api-key:<prefix>, dicom:<calling AE>, cli:<user>, exporter, anonymous, ...',
  }),
  action: Type.String({ description: 'what, e.g. instance.received, api.access-denied, apikey.revoke' }),
  subjectType: Type.String({
    description: 'the kind of object: instance, study, export, api-key, route, ...',
  }),
  subjectId: Nullable(Type.String()),
  details: Nullable(
    Type.Record(Type.String(), Type.Unknown(), {
      description: 'more about the event; never patient data nor keys',
    }),
  ),
});

/** GET /audit: the audit trail, newest first (scope admin). */
export const auditRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { deps }) => {
  const { db } = deps;

  app.get(
    '/audit',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['audit'],
        summary: 'The audit trail, newest first (scope admin)',
        description:
          'Events after DICOM PS3.15 (instances received and exported, access denied, API keys created and ' +
          'revoked, re-analysis and export retries, audit trail read). Page with the `nextCursor` of the ' +
          'previous answer as `cursor`; it is null on the last page. Reading it is itself audited.',
        querystring: Type.Object({
          action: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 100,
              pattern: PRINTABLE_PATTERN,
              description: 'an action, or a family of them: apikey.* for apikey.create and apikey.revoke',
            }),
          ),
          actor: Type.Optional(
            Type.String({
              minLength: 1,
              maxLength: 200,
              pattern: PRINTABLE_PATTERN,
              description: 'exact actor',
            }),
          ),
          since: Type.Optional(Type.String({ format: 'date-time', description: 'events at or after' })),
          until: Type.Optional(Type.String({ format: 'date-time', description: 'events before' })),
          cursor: Type.Optional(
            Type.String({
              maxLength: 200,
              pattern: CURSOR_PATTERN,
              description: 'nextCursor of the previous page (opaque)',
            }),
          ),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(AuditEventItem),
            nextCursor: Nullable(
              Type.String({ description: 'pass as cursor= for the next (older) page; null on the last one' }),
            ),
            hasMore: Type.Boolean({ description: 'true when older events match' }),
          }),
          ...errors(...AUTH_ERRORS),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const since = q.since ? instantOf(q.since) : undefined;
      const until = q.until ? instantOf(q.until) : undefined;
      if (since && until && since.getTime() >= until.getTime())
        throw new InputError('since must be before until');
      const limit = q.limit ?? 50;
      const { items, hasMore } = await listAuditEvents(db, {
        action: q.action,
        actor: q.actor,
        since,
        until,
        beforeId: decodeAuditCursor(q.cursor),
        limit,
      });
      // PS3.15 "Audit Log Used": after the read, so that a page never holds its own read.
      await audit(db, {
        actor: request.actor,
        action: AUDIT_ACTIONS.auditRead,
        subjectType: 'audit-trail',
        details: {
          filters: { action: q.action, actor: q.actor, since: q.since, until: q.until },
          returned: items.length,
        },
      });
      return {
        items: items.map((e) => ({
          id: e.id,
          at: e.at.toISOString(),
          actor: e.actor,
          action: e.action,
          subjectType: e.subjectType,
          subjectId: e.subjectId,
          details:
            e.details && typeof e.details === 'object' && !Array.isArray(e.details)
              ? (e.details as Record<string, unknown>)
              : null,
        })),
        nextCursor: hasMore && items.length ? encodeAuditCursor(items[items.length - 1].id) : null,
        hasMore,
      };
    },
  );
};
