import { loadConfig } from '@lumbar/core';
import { exportTlsOptions } from './tls';

describe('exportTlsOptions', () => {
  it('speaks TLS to every destination, or only to those LUMBAR_EXPORT_TLS_DESTINATIONS names', () => {
    const dests = { LUMBAR_DESTINATIONS: 'PACS@pacs.local:2762, ARCHIVE@10.0.0.9:104' };
    const all = loadConfig({ ...dests, LUMBAR_EXPORT_TLS_CA: '/ca.pem' }).export.tls;
    expect(all?.destinations).toBeNull();
    // every destination speaks TLS: the (missing) CA file is read for each of them
    expect(() => exportTlsOptions(all, 'ARCHIVE@10.0.0.9:104')).toThrow(/LUMBAR_EXPORT_TLS_CA: cannot read/);
    const some = loadConfig({
      ...dests,
      LUMBAR_EXPORT_TLS_CA: '/ca.pem',
      LUMBAR_EXPORT_TLS_DESTINATIONS: ' PACS@pacs.local:2762 ',
    }).export.tls;
    expect(some?.destinations).toEqual(['PACS@pacs.local:2762']);
    // the CA file does not exist: only a TLS destination reads it (and a start-up check without a destination)
    expect(() => exportTlsOptions(some, 'PACS@pacs.local:2762')).toThrow(
      /LUMBAR_EXPORT_TLS_CA: cannot read "\/ca.pem"/,
    );
    expect(() => exportTlsOptions(some)).toThrow(/LUMBAR_EXPORT_TLS_CA/);
    expect(exportTlsOptions(some, 'ARCHIVE@10.0.0.9:104')).toBeUndefined();
    expect(exportTlsOptions(null, 'PACS@pacs.local:2762')).toBeUndefined();
  });
});
