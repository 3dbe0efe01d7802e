import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * The product's logger: pino, JSON lines, object first (`log.error({ err, studyId }, 'inference failed')`).
 * Patient names and ids are never logged at info level; the `redact` list catches them if they slip in.
 */
export function createLogger(name: string, level = 'info'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['patientName', 'patientId', '*.patientName', '*.patientId', 'authorization'],
      censor: '[redacted]',
    },
  });
}
