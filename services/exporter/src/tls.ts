import { readPem, type Config } from '@lumbar/core';

/**
 * TLS options of the C-STORE SCU (dcmjs-dimse securityOptions) from config.export.tls, for `destination`
 * (`AE@host:port`; left out: as for any TLS destination); undefined = plain TCP to it.
 */
export function exportTlsOptions(tls: Config['export']['tls'], destination?: string) {
  if (!tls) return undefined;
  if (destination !== undefined && tls.destinations && !tls.destinations.includes(destination))
    return undefined;
  return {
    ca: readPem('LUMBAR_EXPORT_TLS_CA', tls.caFile),
    cert: tls.certFile ? readPem('LUMBAR_EXPORT_TLS_CERT', tls.certFile) : undefined,
    key: tls.keyFile ? readPem('LUMBAR_EXPORT_TLS_KEY', tls.keyFile) : undefined,
    minVersion: 'TLSv1.2',
  };
}
