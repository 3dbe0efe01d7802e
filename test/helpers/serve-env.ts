import { testConfig } from './services';

/**
 * The environment of a `lumbar serve` child started by a test: the test's database, a new data folder and queue
 * prefix (testConfig's), ports the system picks (0), then `env`, which wins.
 */
export function serveEnv(databaseUrl: string, env: Record<string, string> = {}): Record<string, string> {
  const config = testConfig(databaseUrl);
  return {
    LUMBAR_DATABASE_URL: databaseUrl,
    LUMBAR_DATA_DIR: config.dataDir,
    LUMBAR_QUEUE_PREFIX: config.queuePrefix,
    LUMBAR_DICOM_PORT: '0',
    LUMBAR_API_PORT: '0',
    ...env,
  };
}
