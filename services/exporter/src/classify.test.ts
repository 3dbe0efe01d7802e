import { classifySend, isStored } from './classify';

// The unit tier of the exporter: how one C-STORE attempt is classified (stored, retried, failed for good).
// test/integration/worker-exporter.test.ts sends to a real Orthanc.

const files = ['seg-sagittal.dcm', 'sr.dcm'];
const first = { made: 0, allowed: 5 };
const last = { made: 4, allowed: 5 };
const ok = (statuses: (number | null)[]) => ({ statuses, associationError: null, permanent: false });

describe('export retry classification', () => {
  it('success and warning statuses count as stored', () => {
    expect(classifySend(ok([0x0000, 0xb000]), files, first)).toEqual({ ok: true });
    expect(classifySend(ok([0x0001, 0x0107]), files, first)).toEqual({ ok: true });
    expect([0x0000, 0xb007, 0x0116].every(isStored)).toBe(true);
    expect([null, 0xa700, 0xa900, 0xc000, 0x0110].some(isStored)).toBe(false);
  });

  it('A7xx (out of resources) is retried, and final only on the last attempt', () => {
    expect(classifySend(ok([0x0000, 0xa700]), files, first)).toEqual({
      ok: false,
      retryable: true,
      final: false,
      status: 0xa700,
      why: 'sr.dcm: 0xA700',
    });
    expect(classifySend(ok([0x0000, 0xa702]), files, last)).toMatchObject({ retryable: true, final: true });
  });

  it('A9xx and Cxxx answers will not change: not retried, final at once, the refusing status recorded', () => {
    expect(classifySend(ok([0xa700, 0xa900]), files, first)).toEqual({
      ok: false,
      retryable: false,
      final: true,
      status: 0xa900,
      why: 'seg-sagittal.dcm: 0xA700, sr.dcm: 0xA900',
    });
    expect(classifySend(ok([0xc000, 0x0000]), files, first)).toMatchObject({
      retryable: false,
      status: 0xc000,
    });
  });

  it('a refused, dropped or timed-out association is retried; a permanent rejection is not', () => {
    const dropped = {
      statuses: [null, null],
      associationError: 'connect ECONNREFUSED 127.0.0.1:104',
      permanent: false,
    };
    expect(classifySend(dropped, files, first)).toEqual({
      ok: false,
      retryable: true,
      final: false,
      status: null,
      why: 'connect ECONNREFUSED 127.0.0.1:104',
    });
    const rejected = {
      statuses: [null, null],
      associationError: 'association rejected: calling AE title not recognised',
      permanent: true,
    };
    expect(classifySend(rejected, files, first)).toMatchObject({ retryable: false, final: true });
  });

  it('a file that got no answer at all is a failure worth a retry', () => {
    expect(classifySend(ok([0x0000, null]), files, first)).toMatchObject({
      retryable: true,
      status: null,
      why: 'sr.dcm: none',
    });
  });
});
