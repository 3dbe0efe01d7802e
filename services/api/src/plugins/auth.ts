import { verifyApiKey, type ApiScope } from '@lumbar/db';
import type { Api, ApiDeps } from '../deps';
import { AuthError } from './errors';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** The scope a request needs: reading for GET and HEAD, administration for anything that changes state. */
export function requiredScope(method: string): ApiScope {
  return method === 'GET' || method === 'HEAD' ? 'read' : 'admin';
}

/** Admin keys may also read. */
export function allows(scopes: readonly ApiScope[], needed: ApiScope): boolean {
  return scopes.includes(needed) || (needed === 'read' && scopes.includes('admin'));
}

/**
 * API keys (`Authorization: Bearer lk_...`) on every route, except those marked `config.public` and the
 * Swagger UI under /docs. 401 without a valid key, 403 with a key that lacks the scope.
 */
export function installAuth(app: Api, deps: ApiDeps): void {
  app.decorateRequest('actor', '');
  app.addHook('onRequest', async (request) => {
    const url = request.routeOptions.url;
    // Unknown routes get their 404 from the not-found handler.
    if (request.is404 || url === undefined) return;
    if (request.routeOptions.config.public || url === '/docs' || url.startsWith('/docs/')) return;
    const m = BEARER.exec(request.headers.authorization ?? '');
    if (!m) throw new AuthError(401, 'send an API key: Authorization: Bearer <key>');
    const scopes = await verifyApiKey(deps.db, m[1]);
    if (!scopes) throw new AuthError(401, 'the API key is not valid (unknown, revoked or malformed)');
    const needed = requiredScope(request.method);
    if (!allows(scopes, needed)) throw new AuthError(403, `this route needs an API key with scope ${needed}`);
    request.actor = `api-key:${m[1].split('_')[1]}`;
  });
}
