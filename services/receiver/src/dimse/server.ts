import net, { type Server as NetServer, type Socket } from 'node:net';
import tls, { type TlsOptions } from 'node:tls';
import type { ScpContext } from '../scp';
import { Association, type AssociationTimers } from './association';

/** The lean SCP's listener: one Association per connection, plain TCP or TLS. */
export interface LeanServer {
  server: NetServer;
  /** Destroys every connection still open (close() once its grace period is over). */
  destroyAll(): void;
}

export function createLeanServer(
  ctx: ScpContext,
  tlsOptions?: TlsOptions,
  timers?: AssociationTimers,
): LeanServer {
  const sockets = new Set<Socket>();
  const onAssociation = (socket: Socket) => new Association(ctx, socket, timers);
  const server = tlsOptions ? tls.createServer(tlsOptions, onAssociation) : net.createServer(onAssociation);
  // every TCP connection (before its TLS handshake too), so that destroyAll() reaches them all
  server.on('connection', (raw: Socket) => {
    sockets.add(raw);
    raw.once('close', () => sockets.delete(raw));
  });
  if (tlsOptions)
    server.on('tlsClientError', (err: Error) => ctx.log.warn({ err: err.message }, 'DICOM network error'));
  return {
    server,
    destroyAll: () => {
      for (const s of sockets) s.destroy();
    },
  };
}
