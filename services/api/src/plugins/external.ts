import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { ALGORITHM } from '@lumbar/core';
import type { Api } from '../deps';

/**
 * The OpenAPI document (built from the route schemas) and the Swagger UI at /docs. Registered before the
 * routes so that every route is seen; the document itself is served by GET /openapi.json (routes/docs.ts).
 */
export async function registerExternal(app: Api): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'lumbar-ai API',
        version: ALGORITHM.version,
        description:
          'Studies, findings, the RIS polling feed, DICOM and PNG downloads, exports and a FHIR R4 view of ' +
          `the results. ${ALGORITHM.disclaimer}`,
      },
      components: {
        securitySchemes: {
          apiKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'Authorization: Bearer lk_<prefix>_<secret>',
          },
        },
      },
      security: [{ apiKey: [] }],
      tags: [
        { name: 'studies', description: 'Received studies and their analyses' },
        { name: 'findings', description: 'The RIS polling feed' },
        { name: 'files', description: 'DICOM SEG and SR, key images' },
        { name: 'exports', description: 'Sends of results to DICOM destinations' },
        { name: 'fhir', description: 'FHIR R4 DiagnosticReport' },
        { name: 'operations', description: 'Health, readiness, metrics, this document' },
        { name: 'audit', description: 'The audit trail (scope admin)' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
}
