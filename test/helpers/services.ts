import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '@lumbar/core';
import { makeTmpDir } from './files';

/** A configuration for one test file: its own data folder, queue prefix and database, loopback peers. */
export function testConfig(databaseUrl: string, env: Record<string, string> = {}): Config {
  return loadConfig({
    LUMBAR_DATABASE_URL: databaseUrl,
    LUMBAR_DATA_DIR: makeTmpDir('lumbar-data-'),
    LUMBAR_QUEUE_PREFIX: `lumbar-test-${randomBytes(4).toString('hex')}`,
    LUMBAR_DICOM_PORT: '0',
    LUMBAR_API_PORT: '0',
    LUMBAR_LOG_LEVEL: 'silent',
    ...env,
  });
}
