import { callerAllowed } from './callers';

describe('callerAllowed', () => {
  const list = [
    { aeTitle: 'ORTHANC', host: '127.0.0.1' },
    { aeTitle: '*', host: '10.0.0.7' },
    { aeTitle: 'ANYWHERE', host: '*' },
  ];
  it.each([
    ['ORTHANC', '127.0.0.1', true],
    ['ORTHANC', '::ffff:127.0.0.1', true],
    ['ORTHANC ', '127.0.0.1', true],
    ['ORTHANC', '10.0.0.8', false],
    ['STRANGER', '127.0.0.1', false],
    ['STRANGER', '10.0.0.7', true],
    ['ANYWHERE', '192.168.1.1', true],
  ])('%s from %s: %s', (ae, host, ok) => {
    expect(callerAllowed(list, ae, host)).toBe(ok);
  });
});
