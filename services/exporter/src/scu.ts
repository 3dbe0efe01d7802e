import dimse from 'dcmjs-dimse';
import type { Socket } from 'node:net';

export interface SendResult {
  /** Per file: the DIMSE status, or null when no response came. */
  statuses: (number | null)[];
  /** Why the association failed, if it did (refused, rejected, aborted, timed out). */
  associationError: string | null;
  /** A rejection the peer called permanent (our AE title unknown there, say): retrying will not help. */
  permanent: boolean;
}

/** Sends Part 10 files to one peer in one association (C-STORE SCU, dcmjs-dimse). */
export function cStore(
  files: string[],
  peer: { aeTitle: string; host: string; port: number },
  callingAeTitle: string,
  timeoutMs: number,
  /** DICOM over TLS (config.export.tls through exportTlsOptions); undefined = plain TCP. */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer; minVersion?: string },
): Promise<SendResult> {
  return new Promise((resolve) => {
    const client = new dimse.Client();
    const statuses: (number | null)[] = files.map(() => null);
    let associationError: string | null = null;
    let permanent = false;
    files.forEach((file, i) => {
      const request = new dimse.requests.CStoreRequest(file);
      request.on('response', (r: { getStatus(): number }) => {
        statuses[i] = r.getStatus();
      });
      client.addRequest(request);
    });
    const timer = setTimeout(() => {
      associationError ??= `no answer within ${timeoutMs} ms`;
      try {
        client.abort();
      } catch {
        /* not connected yet */
      }
      finish();
    }, timeoutMs);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ statuses, associationError, permanent });
    };
    client.on('connected', () => {
      const network = (client as unknown as { network?: { socket?: Socket } }).network;
      network?.socket?.setNoDelay(true);
    });
    client.on('associationRejected', (r: { result: number; reason: number }) => {
      permanent = r.result === dimse.constants.RejectResult.Permanent;
      associationError = `association rejected (result ${r.result}, reason ${r.reason})`;
    });
    client.on('networkError', (err: Error) => {
      associationError ??= `network error: ${err.message}`;
      finish();
    });
    let accepted = false;
    client.on('associationAccepted', () => (accepted = true));
    client.on('closed', () => {
      // e.g. a TLS port spoken to in plain TCP, or a peer that hangs up on the association request
      if (!accepted) associationError ??= 'connection closed before the association was accepted';
      finish();
    });
    try {
      client.send(peer.host, peer.port, callingAeTitle, peer.aeTitle, {
        connectTimeout: timeoutMs,
        ...(tls ? { securityOptions: tls } : {}),
      });
    } catch (err) {
      associationError = err instanceof Error ? err.message : String(err);
      finish();
    }
  });
}
