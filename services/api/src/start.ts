import type { AddressInfo } from 'node:net';
import { createApiKey } from '@lumbar/db';
import { buildApi } from './app';
import type { ApiDeps } from './deps';

export interface RunningApi {
  port: number;
  close(): Promise<void>;
}

/**
 * Starts the API on config.api.host/port. A bootstrap key (LUMBAR_BOOTSTRAP_API_KEY) is stored first with
 * scopes admin and read, so that a fresh installation can be used (and can create no other key itself).
 */
export async function startApi(deps: ApiDeps): Promise<RunningApi> {
  const { config } = deps;
  if (config.api.bootstrapApiKey) {
    await createApiKey(deps.db, ['admin', 'read'], 'bootstrap', config.api.bootstrapApiKey);
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
