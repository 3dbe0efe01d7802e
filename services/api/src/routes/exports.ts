import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ConflictError, NotFoundError, UnavailableError } from '@lumbar/core';
import { audit, findExport, getExportWithStudy, listExportsPage, resetExport } from '@lumbar/db';
import { queueExport } from '@lumbar/jobs';
import { Type } from 'typebox';
import type { RouteOptions } from '../deps';
import { AUTH_ERRORS, DateTime, errors, EXPORT_STATUSES, IdParams, Nullable, Paging } from '../schemas';

const ExportItem = Type.Object({
  id: Type.Integer(),
  analysisId: Type.Integer(),
  studyId: Type.Integer(),
  studyInstanceUid: Type.String(),
  destination: Type.String({ description: 'AE@host:port' }),
  status: Type.Enum(EXPORT_STATUSES),
  attempts: Type.Integer(),
  lastStatus: Nullable(Type.Integer({ description: 'last DIMSE status (0 = success)' })),
  lastError: Nullable(Type.String()),
  createdAt: DateTime,
  updatedAt: DateTime,
  sentAt: Nullable(DateTime),
});

type ExportRow = {
  id: number;
  analysisId: number;
  destination: string;
  status: (typeof EXPORT_STATUSES)[number];
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
  sentAt: Date | null;
  analysis: { studyId: number; study: { studyInstanceUid: string } };
};

function exportView(e: ExportRow) {
  return {
    id: e.id,
    analysisId: e.analysisId,
    studyId: e.analysis.studyId,
    studyInstanceUid: e.analysis.study.studyInstanceUid,
    destination: e.destination,
    status: e.status,
    attempts: e.attempts,
    lastStatus: e.lastStatus,
    lastError: e.lastError,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
    sentAt: e.sentAt ? e.sentAt.toISOString() : null,
  };
}

/** GET /exports and POST /exports/:id/retry. */
export const exportRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { deps }) => {
  const { db, queues, config } = deps;

  app.get(
    '/exports',
    {
      schema: {
        tags: ['exports'],
        summary: 'List exports, newest first (e.g. ?status=failed)',
        querystring: Type.Object({ status: Type.Optional(Type.Enum(EXPORT_STATUSES)), ...Paging }),
        response: {
          200: Type.Object({
            items: Type.Array(ExportItem),
            total: Type.Integer(),
            limit: Type.Integer(),
            offset: Type.Integer(),
          }),
          ...errors(...AUTH_ERRORS),
        },
      },
    },
    async (request) => {
      const limit = request.query.limit ?? 50;
      const offset = request.query.offset ?? 0;
      const { rows, total } = await listExportsPage(db, { status: request.query.status }, { limit, offset });
      return { items: rows.map(exportView), total, limit, offset };
    },
  );

  app.post(
    '/exports/:id/retry',
    {
      schema: {
        tags: ['exports'],
        summary: 'Send a failed export again with a fresh attempt budget (scope admin)',
        params: IdParams,
        response: {
          200: Type.Object({ export: ExportItem, jobId: Type.String() }),
          ...errors(...AUTH_ERRORS, 404, 409),
        },
      },
    },
    async (request) => {
      const id = request.params.id;
      const before = await findExport(db, id);
      if (!before) throw new NotFoundError(`export ${id} does not exist`);
      const reset = await resetExport(db, id);
      if (!reset) {
        const now = await findExport(db, id);
        throw new ConflictError(
          `export ${id} is ${now?.status ?? before.status}: only a failed export can be retried`,
        );
      }
      // The generation the worker's reconciler would use for this pending export: both give one job id.
      const generation = String(reset.updatedAt.getTime());
      const jobId = `export-${id}-${generation}`;
      // The export as reset (pending), read before it is queued: an exporter may claim it at once, and the
      // answer should not depend on that race (test/faults/pacs-down.fault.ts once read 'sending').
      const row = await getExportWithStudy(db, id);
      try {
        await queueExport(queues, id, {
          attempts: config.export.attempts,
          backoffMs: config.export.backoffMs,
          generation,
        });
      } catch (err) {
        request.log.warn({ exportId: id, err: (err as Error).message }, 'retry: queue unavailable');
        throw new UnavailableError(
          'the job queue is unavailable: the export is pending and will be queued later',
        );
      }
      await audit(db, {
        actor: request.actor,
        action: 'export.retry',
        subjectType: 'export',
        subjectId: id,
        details: { jobId, destination: before.destination, previousAttempts: before.attempts },
      });
      return { export: exportView(row), jobId };
    },
  );
};
