import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { NotFoundError } from '@lumbar/core';
import { listAnalysesWithResults, type PrismaClient } from '@lumbar/db';
import { Type, type TSchema } from 'typebox';
import type { RouteOptions } from '../deps';
import { diagnosticReport, FHIR, reportId, searchBundle } from '../fhir';
import { gradingsOf } from '../gradings';
import { probabilities } from '../results';
import { AUTH_ERRORS, errors } from '../schemas';

const Resource = Type.Object(
  { resourceType: Type.String(), id: Type.String() },
  { additionalProperties: true, description: 'a FHIR R4 resource' },
);
const Bundle = Type.Object(
  {
    resourceType: Type.Literal('Bundle'),
    type: Type.Literal('searchset'),
    total: Type.Integer(),
    link: Type.Array(Type.Object({ relation: Type.String(), url: Type.String() })),
    entry: Type.Array(
      Type.Object({
        fullUrl: Type.String(),
        resource: Resource,
        search: Type.Object({ mode: Type.String() }),
      }),
    ),
  },
  { description: 'FHIR R4 Bundle (searchset) of DiagnosticReport' },
);

/** A 200 answer in the FHIR media type (the errors stay application/json). */
function fhirJson<T extends TSchema>(schema: T) {
  const description = (schema as { description?: string }).description ?? 'FHIR R4';
  return { description, content: { [FHIR.contentType.split(';')[0]]: { schema } } };
}

/** DiagnosticReports of the analyses of a study that have results (newest algorithm version last). */
async function reports(db: PrismaClient, where: { studyInstanceUid?: string; analysisId?: number }) {
  const analyses = await listAnalysesWithResults(db, where);
  return analyses.map((a) =>
    diagnosticReport({
      study: a.study,
      analysis: a,
      findings: a.findings.map((f) => ({ ...f, probabilities: probabilities(f.probabilities) })),
      gradings: gradingsOf(a.document),
    }),
  );
}

/** FHIR R4: search DiagnosticReport by study (StudyInstanceUID) and read one by id. */
export const fhirRoutes: FastifyPluginAsyncTypebox<RouteOptions> = async (app, { deps }) => {
  const base = (r: { protocol: string; host: string }) => `${r.protocol}://${r.host}`;

  app.get(
    '/fhir/DiagnosticReport',
    {
      schema: {
        tags: ['fhir'],
        summary: 'Search DiagnosticReport by study=<StudyInstanceUID> (FHIR R4 searchset Bundle)',
        querystring: Type.Object({ study: Type.String({ pattern: '^[0-9]+(\\.[0-9]+)*$', maxLength: 64 }) }),
        // Sent as application/fhir+json: documented so (was application/json, which fuzzing flagged).
        response: { 200: fhirJson(Bundle), ...errors(...AUTH_ERRORS) },
      },
    },
    async (request, reply) => {
      const found = await reports(deps.db, { studyInstanceUid: request.query.study });
      const self = `${base(request)}/fhir/DiagnosticReport?study=${request.query.study}`;
      return reply.type(FHIR.contentType).send(searchBundle(base(request), self, found));
    },
  );

  app.get(
    '/fhir/DiagnosticReport/:id',
    {
      schema: {
        tags: ['fhir'],
        summary: 'Read one DiagnosticReport (id lumbar-<analysis id>)',
        params: Type.Object({ id: Type.String({ pattern: '^lumbar-[1-9][0-9]{0,9}$' }) }),
        response: { 200: fhirJson(Resource), ...errors(...AUTH_ERRORS, 404) },
      },
    },
    async (request, reply) => {
      const analysisId = Number(request.params.id.slice('lumbar-'.length));
      const [report] = analysisId < 2 ** 31 ? await reports(deps.db, { analysisId }) : [];
      if (!report || report.id !== reportId(analysisId)) {
        throw new NotFoundError(`DiagnosticReport ${request.params.id} does not exist`);
      }
      return reply.type(FHIR.contentType).send(report);
    },
  );
};
