/**
 * @lumbar/api: the REST API. Studies, findings and the RIS polling feed, DICOM SEG/SR and key image
 * downloads, re-analysis, export retries, a FHIR R4 DiagnosticReport view, health, readiness and metrics.
 * API keys (Authorization: Bearer) guard everything but health, readiness and the OpenAPI document.
 * See docs/API.md.
 *
 * - buildApi(deps): the Fastify app, ready, not listening (tests use inject).
 * - startApi(deps): listens on config.api.host/port, after storing the bootstrap key if one is set.
 */
export { buildApi } from './app';
export { startApi, type RunningApi } from './start';
export type { ApiDeps } from './deps';
export { encodeCursor, decodeCursor } from './cursor';
export { diagnosticReport, FHIR } from './fhir';
export { METRIC_NAMES } from './plugins/metrics';
