import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from '@lumbar/core';

/** A debug-level logger that hands every line it writes (JSON, newline-terminated) to `keep`. */
export function capturingLogger(keep: (text: string) => void): Logger {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      keep(String(chunk));
      cb();
    },
  });
  return pino({ level: 'debug' }, sink);
}
