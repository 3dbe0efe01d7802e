import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ALGORITHM } from '@lumbar/core';
import { listFindingsAfter } from '@lumbar/db';
import { Type } from 'typebox';
import { decodeCursor, encodeCursor } from '../cursor';
import type { RouteOptions } from '../deps';
import { GradingSchema, gradingsOf } from '../gradings';
import { probabilities, requireResult } from '../results';
import {
  Algorithm,
  AUTH_ERRORS,
  CURSOR_PATTERN,
  DateTime,
  errors,
  IdParams,
  Level,
  Nullable,
} from '../schemas';

const StudyFindings = Type.Object({
  studyId: Type.Integer(),
  studyInstanceUid: Type.String(),
  accessionNumber: Nullable(Type.String()),
  analysisId: Type.Integer(),
  analysisStatus: Type.String({ description: 'status of the analysis (running while a re-analysis runs)' }),
  analyzedAt: Nullable(DateTime),
  algorithm: Algorithm,
  summary: Nullable(Type.String()),
  disclaimer: Type.String(),
  levels: Type.Array(Level),
  gradings: Type.Array(GradingSchema, {
    description:
      "the sagittal grader's output per disc found on the mid-sagittal slice, top down (empty without the grader)",
  }),
  keyImages: Type.Array(Type.Object({ n: Type.Integer(), title: Type.String(), url: Type.String() })),
});

const FeedItem = Type.Object({
  cursor: Type.String({ description: 'opaque: resume after this item with since=<cursor>' }),
  studyId: Type.Integer(),
  studyInstanceUid: Type.String(),
  accessionNumber: Nullable(Type.String()),
  analysisId: Type.Integer(),
  algorithm: Algorithm,
  ...Level.properties,
  createdAt: DateTime,
});

/** The titles of the key images, from findings.json (`keyImages: [{file, title}]`). */
function keyImages(doc: unknown, studyId: number) {
  const list = (doc as { keyImages?: unknown } | null)?.keyImages;
  if (!Array.isArray(list)) return [];
  return list.flatMap((k: { file?: unknown; title?: unknown }) => {
    const m = typeof k?.file === 'string' ? /^key-images\/(\d+)\.png$/.exec(k.file) : null;
    if (!m) return [];
    const n = Number(m[1]);
    return [{ n, title: String(k.title ?? ''), url: `/studies/${studyId}/key-images/${n}.png` }];
  });
}

/** GET /studies/:id/findings and the RIS polling feed GET /findings. */
export const findingRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { deps }) => {
  const { db } = deps;

  app.get(
    '/studies/:id/findings',
    {
      schema: {
        tags: ['studies'],
        summary: 'The findings of the study: summary, one diagnosis per disc level and the disc gradings',
        params: IdParams,
        response: { 200: StudyFindings, ...errors(...AUTH_ERRORS, 404) },
      },
    },
    async (request) => {
      const { study, analysis } = await requireResult(db, request.params.id);
      return {
        studyId: study.id,
        studyInstanceUid: study.studyInstanceUid,
        accessionNumber: study.accessionNumber,
        analysisId: analysis.id,
        analysisStatus: analysis.status,
        analyzedAt: analysis.finishedAt ? analysis.finishedAt.toISOString() : null,
        algorithm: { name: analysis.algorithmName, version: analysis.algorithmVersion },
        summary: analysis.summary,
        disclaimer: ALGORITHM.disclaimer,
        levels: analysis.findings.map((f) => ({
          level: f.level,
          diagnosis: f.diagnosis,
          probabilities: probabilities(f.probabilities),
          reason: f.reason,
        })),
        gradings: gradingsOf(analysis.document),
        keyImages: keyImages(analysis.document, study.id),
      };
    },
  );

  app.get(
    '/findings',
    {
      schema: {
        tags: ['findings'],
        summary: 'The findings feed for RIS polling: every finding once, in commit order',
        description:
          'Start without `since`; then pass the `nextCursor` of the previous answer. Items come in the order ' +
          'they were committed; a cursor never skips nor repeats one. A re-analysis adds new items.',
        querystring: Type.Object({
          since: Type.Optional(
            // The alphabet of the cursors this API issues (base64url): anything else fails the schema.
            Type.String({
              maxLength: 200,
              pattern: CURSOR_PATTERN,
              description: 'nextCursor of the previous page',
            }),
          ),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
        }),
        response: {
          200: Type.Object({
            items: Type.Array(FeedItem),
            nextCursor: Type.String({
              description: 'pass as since= on the next poll (same as since when empty)',
            }),
            hasMore: Type.Boolean({ description: 'true when another page is ready now' }),
            disclaimer: Type.String(),
          }),
          ...errors(...AUTH_ERRORS),
        },
      },
    },
    async (request) => {
      const after = decodeCursor(request.query.since);
      const limit = request.query.limit ?? 100;
      const rows = await listFindingsAfter(db, after, limit + 1);
      const page = rows.slice(0, limit);
      const last = page.length ? page[page.length - 1].id : after;
      return {
        items: page.map((f) => ({
          cursor: encodeCursor(f.id),
          studyId: f.analysis.studyId,
          studyInstanceUid: f.analysis.study.studyInstanceUid,
          accessionNumber: f.analysis.study.accessionNumber,
          analysisId: f.analysisId,
          algorithm: { name: f.analysis.algorithmName, version: f.analysis.algorithmVersion },
          level: f.level,
          diagnosis: f.diagnosis,
          probabilities: probabilities(f.probabilities),
          reason: f.reason,
          createdAt: f.createdAt.toISOString(),
        })),
        nextCursor: encodeCursor(last),
        hasMore: rows.length > limit,
        disclaimer: ALGORITHM.disclaimer,
      };
    },
  );
};
