import type { AddressInfo } from 'node:net';
import { apiKeyPrefix, createApiKey, findApiKey } from '@lumbar/db';
import { buildApi } from './app';
import type { ApiDeps } from './deps';

export interface RunningApi {
  port: number;
  close(): Promise<void>;
}

/**
 * Starts the API on config.api.host/port. A bootstrap key (LUMBAR_BOOTSTRAP_API_KEY) is stored first with
 * scopes admin and read, so that a fresh installation can be used (and can create no other key itself); a
 * bootstrap key that was revoked (`lumbar apikey revoke`) is not restored.
 */
export async function startApi(deps: ApiDeps): Promise<RunningApi> {
  const { config } = deps;
  const bootstrap = config.api.bootstrapApiKey;
  if (bootstrap) {
    // A bootstrap key that an operator revoked stays revoked: a restart must not bring it back.
    const prefix = apiKeyPrefix(bootstrap);
    const known = prefix ? await findApiKey(deps.db, prefix) : null;
    if (known?.revokedAt) {
      deps.log.warn(
        { prefix },
        'LUMBAR_BOOTSTRAP_API_KEY was revoked: not restored (unset it, or create a new key with lumbar apikey create)',
      );
    } else {
      await createApiKey(deps.db, ['admin', 'read'], 'bootstrap', bootstrap, { actor: 'api:bootstrap' });
    }
  }
  const app = await buildApi(deps);
  try {
    await app.listen({ host: config.api.host, port: config.api.port });
  } catch (err) {
    await app.close().catch(() => undefined); // a port taken: nothing of the API stays open
    throw err;
  }
  const port = (app.server.address() as AddressInfo).port;
  deps.log.info({ host: config.api.host, port }, 'API listening');
  return { port, close: () => app.close() };
}
