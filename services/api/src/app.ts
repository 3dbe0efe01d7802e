import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ApiDeps } from './deps';
import { installAuth } from './plugins/auth';
import { registerBullBoard } from './plugins/bull-board';
import { frameworkErrors, installErrorHandler } from './plugins/errors';
import { installInputChecks } from './plugins/inputs';
import { registerExternal } from './plugins/external';
import { installMetrics } from './plugins/metrics';
import { auditRoutes } from './routes/audit';
import { dashboardRoutes } from './routes/dashboard';
import { exportRoutes } from './routes/exports';
import { fhirRoutes } from './routes/fhir';
import { fileRoutes } from './routes/files';
import { findingRoutes } from './routes/findings';
import { operationRoutes } from './routes/operations';
import { studyRoutes } from './routes/studies';

/**
 * The HTTP API, ready but not listening (tests use `inject`). Plugins load in four layers: input checks
 * (405, strict integers), external (OpenAPI, Swagger UI), app-wide (errors, metrics, auth) and the routes.
 */
export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    routerOptions: { ignoreTrailingSlash: true },
    frameworkErrors,
  }).withTypeProvider<TypeBoxTypeProvider>();

  installInputChecks(app); // first: its onRoute hook must see every route, /docs included
  await registerExternal(app);

  installErrorHandler(app);
  installMetrics(app, deps);
  installAuth(app, deps);

  const opts = { deps };
  await app.register(operationRoutes, opts);
  await app.register(studyRoutes, opts);
  await app.register(findingRoutes, opts);
  await app.register(fileRoutes, opts);
  await app.register(exportRoutes, opts);
  await app.register(fhirRoutes, opts);
  await app.register(dashboardRoutes, opts);
  await app.register(auditRoutes, opts);
  await registerBullBoard(app, deps);

  await app.ready();
  return app;
}
