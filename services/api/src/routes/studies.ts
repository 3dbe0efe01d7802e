import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { UnavailableError } from '@lumbar/core';
import { audit, findStudySeriesAndAnalyses, listStudiesPage, setStudyStatus } from '@lumbar/db';
import type { JobPayloads } from '@lumbar/jobs';
import { Type } from 'typebox';
import type { RouteOptions } from '../deps';
import { requireStudy, StudySummary, studyView } from '../results';
import {
  AUTH_ERRORS,
  DateTime,
  errors,
  IdParams,
  instantOf,
  Nullable,
  Paging,
  STUDY_STATUSES,
} from '../schemas';

const StudyDetail = Type.Object({
  ...StudySummary.properties,
  series: Type.Array(
    Type.Object({
      seriesInstanceUid: Type.String(),
      modality: Nullable(Type.String()),
      seriesNumber: Nullable(Type.Integer()),
      seriesDescription: Nullable(Type.String()),
      instanceCount: Type.Integer(),
    }),
  ),
  analyses: Type.Array(
    Type.Object({
      id: Type.Integer(),
      algorithm: Type.Object({ name: Type.String(), version: Type.String() }),
      status: Type.String(),
      attempts: Type.Integer(),
      summary: Nullable(Type.String()),
      createdAt: DateTime,
      startedAt: Nullable(DateTime),
      finishedAt: Nullable(DateTime),
    }),
  ),
});

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** GET /studies, GET /studies/:id and POST /studies/:id/reanalyze. */
export const studyRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { deps }) => {
  const { db, queues } = deps;

  app.get(
    '/studies',
    {
      schema: {
        tags: ['studies'],
        summary: 'List studies, newest first (stable order: by id, descending)',
        querystring: Type.Object({
          status: Type.Optional(Type.Enum(STUDY_STATUSES)),
          receivedFrom: Type.Optional(
            Type.String({ format: 'date-time', description: 'first received at or after' }),
          ),
          receivedTo: Type.Optional(
            Type.String({ format: 'date-time', description: 'first received before' }),
          ),
          ...Paging,
        }),
        response: {
          200: Type.Object({
            items: Type.Array(StudySummary),
            total: Type.Integer(),
            limit: Type.Integer(),
            offset: Type.Integer(),
          }),
          ...errors(...AUTH_ERRORS),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const limit = q.limit ?? 50;
      const offset = q.offset ?? 0;
      const { rows, total } = await listStudiesPage(
        db,
        {
          status: q.status,
          receivedFrom: q.receivedFrom ? instantOf(q.receivedFrom) : undefined,
          receivedTo: q.receivedTo ? instantOf(q.receivedTo) : undefined,
        },
        { limit, offset },
      );
      return { items: rows.map(studyView), total, limit, offset };
    },
  );

  app.get(
    '/studies/:id',
    {
      schema: {
        tags: ['studies'],
        summary: 'One study with its series and analyses',
        params: IdParams,
        response: { 200: StudyDetail, ...errors(...AUTH_ERRORS, 404) },
      },
    },
    async (request) => {
      const study = await requireStudy(db, request.params.id);
      const { series, analyses } = await findStudySeriesAndAnalyses(db, study.id);
      return {
        ...studyView(study),
        series: series.map((s) => ({
          seriesInstanceUid: s.seriesInstanceUid,
          modality: s.modality,
          seriesNumber: s.seriesNumber,
          seriesDescription: s.seriesDescription,
          instanceCount: s._count.instances,
        })),
        analyses: analyses.map((a) => ({
          id: a.id,
          algorithm: { name: a.algorithmName, version: a.algorithmVersion },
          status: a.status,
          attempts: a.attempts,
          summary: a.summary,
          createdAt: a.createdAt.toISOString(),
          startedAt: iso(a.startedAt),
          finishedAt: iso(a.finishedAt),
        })),
      };
    },
  );

  app.post(
    '/studies/:id/reanalyze',
    {
      schema: {
        tags: ['studies'],
        summary: 'Queue a new analysis of the study (scope admin)',
        params: IdParams,
        response: {
          202: Type.Object({ studyId: Type.Integer(), jobId: Type.String(), status: Type.Literal('queued') }),
          ...errors(...AUTH_ERRORS, 404),
        },
      },
    },
    async (request, reply) => {
      const study = await requireStudy(db, request.params.id);
      const jobId = `reanalyze-${study.id}-${Date.now()}-${randomBytes(4).toString('hex')}`;
      // Status first: a worker that picks the job at once moves it on to `analyzing`, never back.
      await setStudyStatus(db, study.id, 'queued');
      try {
        await queues.studies.add(
          'study.reanalyze',
          { studyId: study.id } satisfies JobPayloads['study.reanalyze'],
          {
            jobId,
            attempts: 3,
            backoff: { type: 'exponential', delay: 10_000 },
            removeOnComplete: { count: 1000 },
            removeOnFail: { count: 5000 },
          },
        );
      } catch (err) {
        await setStudyStatus(db, study.id, study.status);
        request.log.warn({ studyId: study.id, err: (err as Error).message }, 'reanalyze: queue unavailable');
        throw new UnavailableError('the job queue is unavailable: try again later');
      }
      await audit(db, {
        actor: request.actor,
        action: 'study.reanalyze',
        subjectType: 'study',
        subjectId: study.id,
        details: { jobId, previousStatus: study.status },
      });
      return reply.status(202).send({ studyId: study.id, jobId, status: 'queued' as const });
    },
  );
};
