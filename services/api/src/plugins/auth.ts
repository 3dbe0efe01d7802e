import type { FastifyRequest } from 'fastify';
import { audit, AUDIT_ACTIONS, checkApiKey, type ApiKeyRefusal, type ApiScope } from '@lumbar/db';
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

type Denial = {
  status: 401 | 403;
  reason: ApiKeyRefusal | 'missing' | 'scope';
  prefix: string | null;
  needed?: ApiScope;
};

/**
 * The audit event of a refused request (PS3.15 Security Alert): the route pattern, the method, the client
 * address and the key's public prefix when it has one; never the key, the query or the body. A failure to
 * write it is logged and does not change the answer.
 */
async function auditDenial(deps: ApiDeps, request: FastifyRequest, d: Denial): Promise<void> {
  try {
    await audit(deps.db, {
      actor: d.prefix ? `api-key:${d.prefix}` : 'anonymous',
      action: AUDIT_ACTIONS.apiAccessDenied,
      subjectType: 'route',
      subjectId: `${request.method} ${request.routeOptions.url}`,
      details: {
        status: d.status,
        reason: d.reason,
        method: request.method,
        route: request.routeOptions.url,
        ip: request.ip,
        keyPrefix: d.prefix,
        ...(d.needed ? { neededScope: d.needed } : {}),
      },
    });
  } catch (err) {
    request.log.warn({ err: (err as Error).message }, 'audit: access denied not recorded');
  }
}

/**
 * API keys (`Authorization: Bearer lk_...`) on every route, except those marked `config.public` and the
 * Swagger UI under /docs. 401 without a valid key (unknown, revoked, expired or malformed), 403 with a key
 * that lacks the scope (`config.scope`, or read for GET and admin otherwise). Both are audited.
 */
export function installAuth(app: Api, deps: ApiDeps): void {
  app.decorateRequest('actor', '');
  app.addHook('onRequest', async (request) => {
    const url = request.routeOptions.url;
    // Unknown routes get their 404 from the not-found handler.
    if (request.is404 || url === undefined) return;
    if (request.routeOptions.config.public || url === '/docs' || url.startsWith('/docs/')) return;
    const m = BEARER.exec(request.headers.authorization ?? '');
    if (!m) {
      await auditDenial(deps, request, { status: 401, reason: 'missing', prefix: null });
      throw new AuthError(401, 'send an API key: Authorization: Bearer <key>');
    }
    const check = await checkApiKey(deps.db, m[1]);
    if (!check.ok) {
      await auditDenial(deps, request, { status: 401, reason: check.reason, prefix: check.prefix });
      throw new AuthError(401, 'the API key is not valid (unknown, revoked, expired or malformed)');
    }
    const needed = request.routeOptions.config.scope ?? requiredScope(request.method);
    if (!allows(check.scopes, needed)) {
      await auditDenial(deps, request, { status: 403, reason: 'scope', prefix: check.prefix, needed });
      throw new AuthError(403, `this route needs an API key with scope ${needed}`);
    }
    request.actor = `api-key:${check.prefix}`;
  });
}
