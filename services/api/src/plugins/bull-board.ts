import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { audit, AUDIT_ACTIONS, checkApiKey, findApiKey } from '@lumbar/db';
import type { Api, ApiDeps } from '../deps';
import { allows } from './auth';

export const BOARD_PATH = '/admin/queues';
const COOKIE = 'lumbar_board';
const SESSION_SECONDS = 3600;
const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * A board session: `prefix.expiry.mac`, HMAC-SHA256 under a secret drawn when the API starts (so a restart
 * ends every session, and each API process has its own). It names the key by its public prefix only; the key
 * is looked up again on every request, so revoking it or its expiry ends the session at once.
 */
export function boardSessions(secret: Buffer = randomBytes(32)) {
  const mac = (body: string) => createHmac('sha256', secret).update(body).digest('base64url');
  return {
    issue(prefix: string, now = Date.now()): string {
      const body = `${prefix}.${Math.floor(now / 1000) + SESSION_SECONDS}`;
      return `${body}.${mac(body)}`;
    },
    /** The key prefix of a valid, unexpired token, or null. */
    verify(token: string, now = Date.now()): string | null {
      const m = /^([A-Za-z0-9]{1,64})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(token);
      if (!m) return null;
      const want = Buffer.from(mac(`${m[1]}.${m[2]}`));
      const got = Buffer.from(m[3]);
      if (want.length !== got.length || !timingSafeEqual(want, got)) return null;
      return Number(m[2]) * 1000 > now ? m[1] : null;
    },
  };
}

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return null;
}

async function deny(
  deps: ApiDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  status: 401 | 403,
  prefix: string | null,
  message: string,
) {
  try {
    await audit(deps.db, {
      actor: prefix ? `api-key:${prefix}` : 'anonymous',
      action: AUDIT_ACTIONS.apiAccessDenied,
      subjectType: 'route',
      subjectId: `${request.method} ${BOARD_PATH}`,
      details: {
        status,
        reason: status === 401 ? 'missing' : 'scope',
        method: request.method,
        ip: request.ip,
      },
    });
  } catch (err) {
    request.log.warn({ err: (err as Error).message }, 'audit: access denied not recorded');
  }
  if (status === 401) void reply.header('www-authenticate', 'Bearer realm="lumbar-ai"');
  return reply.status(status).send({
    statusCode: status,
    error: status === 401 ? 'Unauthorized' : 'Forbidden',
    code: status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN',
    message,
  });
}

/**
 * The BullMQ board (`@bull-board/fastify`) under /admin/queues, for `admin` keys only: either
 * `Authorization: Bearer lk_...` (tools), or the HttpOnly, SameSite=Strict session cookie that
 * `POST /admin/queues/session` sets for a browser (the dashboard calls it with the admin key it holds).
 * Without a key 401, with a key that lacks the admin scope 403; both audited.
 */
export async function registerBullBoard(app: Api, deps: ApiDeps): Promise<void> {
  const sessions = boardSessions();

  app.post(
    `${BOARD_PATH}/session`,
    { config: { scope: 'admin' }, schema: { hide: true } },
    async (request, reply) => {
      const prefix = request.actor.replace(/^api-key:/, '');
      const secure = request.protocol === 'https' ? '; Secure' : '';
      return reply
        .header(
          'set-cookie',
          `${COOKIE}=${sessions.issue(prefix)}; Path=${BOARD_PATH}; Max-Age=${SESSION_SECONDS}; HttpOnly; SameSite=Strict${secure}`,
        )
        .status(204)
        .send();
    },
  );

  await app.register(async (scope) => {
    // The board's own routes skip the app-wide key check: the hook below checks them (bearer or cookie).
    scope.addHook('onRoute', (route) => {
      route.config = { ...route.config, public: true };
    });
    scope.addHook('onRequest', async (request, reply) => {
      const bearer = BEARER.exec(request.headers.authorization ?? '');
      if (bearer) {
        const check = await checkApiKey(deps.db, bearer[1]);
        if (!check.ok) return deny(deps, request, reply, 401, check.prefix, 'the API key is not valid');
        if (!allows(check.scopes, 'admin')) {
          return deny(
            deps,
            request,
            reply,
            403,
            check.prefix,
            'the queue board needs an API key with scope admin',
          );
        }
        return;
      }
      const token = cookieValue(request.headers.cookie, COOKIE);
      const prefix = token ? sessions.verify(token) : null;
      if (!prefix) {
        return deny(deps, request, reply, 401, null, 'send an admin API key, or log in from /dashboard');
      }
      const key = await findApiKey(deps.db, prefix);
      const now = new Date();
      if (!key || key.revokedAt || (key.expiresAt && key.expiresAt <= now)) {
        return deny(deps, request, reply, 401, prefix, 'the API key of this session is no longer valid');
      }
      if (!key.scopes.includes('admin')) {
        return deny(deps, request, reply, 403, prefix, 'the queue board needs an API key with scope admin');
      }
    });

    const adapter = new FastifyAdapter();
    adapter.setBasePath(BOARD_PATH);
    createBullBoard({
      queues: [new BullMQAdapter(deps.queues.studies), new BullMQAdapter(deps.queues.exports)],
      // @bull-board/fastify carries its own copy of @bull-board/api's types (9.10.1): same shape.
      serverAdapter: adapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
      options: { uiConfig: { boardTitle: 'lumbar-ai queues' } },
    });
    await scope.register(adapter.registerPlugin(), { prefix: BOARD_PATH });
  });
}
