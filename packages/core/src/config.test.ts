import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkModelsDir,
  ConfigError,
  databaseUrlVariable,
  DEFAULT_DICOM_SCP,
  loadConfig,
  parseExecutionProviders,
  parseIntraOpThreads,
  redactUrl,
} from './config';

describe('loadConfig', () => {
  it('has defaults a small site can start with', () => {
    const c = loadConfig({});
    expect(c.dicom).toMatchObject({ aeTitle: 'LUMBAR', port: 11112, maxAssociations: 8 });
    expect(c.dicom.allowedCallers).toEqual([{ aeTitle: '*', host: '127.0.0.1' }]);
    expect(c.api.port).toBe(8080);
    expect(c.stableSeconds).toBe(15);
    expect(c.destinations).toEqual([]);
    expect(c.databaseUrl).toBe('postgresql://postgres@127.0.0.1:5432/lumbar');
    expect(c.dicom.tls).toBeNull();
    expect(c.export.tls).toBeNull();
  });

  it('binds loopback by default; LUMBAR_DICOM_HOST and LUMBAR_API_HOST open the ports', () => {
    const c = loadConfig({});
    expect([c.dicom.host, c.api.host]).toEqual(['127.0.0.1', '127.0.0.1']);
    const open = loadConfig({ LUMBAR_DICOM_HOST: '0.0.0.0', LUMBAR_API_HOST: '10.0.0.7' });
    expect([open.dicom.host, open.api.host]).toEqual(['0.0.0.0', '10.0.0.7']);
  });

  it('selects the C-STORE SCP with LUMBAR_DICOM_SCP', () => {
    expect(loadConfig({}).dicom.scp).toBe(DEFAULT_DICOM_SCP);
    expect(loadConfig({ LUMBAR_DICOM_SCP: 'lean' }).dicom.scp).toBe('lean');
    expect(loadConfig({ LUMBAR_DICOM_SCP: 'dcmjs-dimse' }).dicom.scp).toBe('dcmjs-dimse');
    expect(() => loadConfig({ LUMBAR_DICOM_SCP: 'dcmtk' })).toThrow(
      /LUMBAR_DICOM_SCP: "dcmtk" is not one of lean, dcmjs-dimse/,
    );
  });

  it('reads DICOM TLS files: server only, or mutual with a CA', () => {
    const server = {
      LUMBAR_DICOM_TLS_CERT: '/etc/lumbar/cert.pem',
      LUMBAR_DICOM_TLS_KEY: '/etc/lumbar/key.pem',
    };
    expect(loadConfig(server).dicom.tls).toEqual({
      certFile: '/etc/lumbar/cert.pem',
      keyFile: '/etc/lumbar/key.pem',
      caFile: null,
    });
    expect(loadConfig({ LUMBAR_EXPORT_TLS_CA: '/etc/lumbar/pacs-ca.pem' }).export.tls).toEqual({
      caFile: '/etc/lumbar/pacs-ca.pem',
      certFile: null,
      keyFile: null,
      destinations: null,
    });
    expect(loadConfig({ ...server, LUMBAR_DICOM_TLS_CA: '/etc/lumbar/ca.pem' }).dicom.tls?.caFile).toBe(
      '/etc/lumbar/ca.pem',
    );
  });

  it('parses peers and lists', () => {
    const c = loadConfig({
      LUMBAR_ALLOWED_CALLERS: 'ORTHANC@10.0.0.5, *@10.0.0.7',
      LUMBAR_DESTINATIONS: 'PACS@pacs.local:4242,ARCHIVE@10.0.0.9:104',
      LUMBAR_SOP_CLASSES: '1.2.3, 1.2.4',
    });
    expect(c.dicom.allowedCallers).toEqual([
      { aeTitle: 'ORTHANC', host: '10.0.0.5' },
      { aeTitle: '*', host: '10.0.0.7' },
    ]);
    expect(c.destinations).toEqual([
      { aeTitle: 'PACS', host: 'pacs.local', port: 4242 },
      { aeTitle: 'ARCHIVE', host: '10.0.0.9', port: 104 },
    ]);
    expect(c.dicom.sopClasses).toEqual(['1.2.3', '1.2.4']);
  });

  it.each([
    [{ LUMBAR_DICOM_PORT: 'eleven' }, /LUMBAR_DICOM_PORT: "eleven" is not an integer between 0 and 65535/],
    [{ LUMBAR_DICOM_PORT: '70000' }, /LUMBAR_DICOM_PORT/],
    [{ LUMBAR_DESTINATIONS: 'PACS@host' }, /LUMBAR_DESTINATIONS: "PACS@host" is not AE@host:port/],
    [{ LUMBAR_ALLOWED_CALLERS: 'justanae' }, /LUMBAR_ALLOWED_CALLERS: "justanae" is not AE@host/],
    [{ LUMBAR_AE_TITLE: 'A_VERY_LONG_AE_TITLE' }, /LUMBAR_AE_TITLE/],
    [{ LUMBAR_DESTINATIONS: 'SEVENTEEN_CHARS_X@h:1' }, /longer than 16 characters/],
    [{ LUMBAR_DICOM_TLS_CERT: '/c.pem' }, /LUMBAR_DICOM_TLS_KEY: missing/],
    [{ LUMBAR_DICOM_TLS_KEY: '/k.pem' }, /LUMBAR_DICOM_TLS_CERT: missing/],
    [{ LUMBAR_DICOM_TLS_CA: '/ca.pem' }, /LUMBAR_DICOM_TLS_CA: set only with/],
    [
      { LUMBAR_EXPORT_TLS_CERT: '/c.pem', LUMBAR_EXPORT_TLS_KEY: '/k.pem' },
      /set only with LUMBAR_EXPORT_TLS_CA/,
    ],
    [{ LUMBAR_EXPORT_TLS_CA: '/ca.pem', LUMBAR_EXPORT_TLS_CERT: '/c.pem' }, /LUMBAR_EXPORT_TLS_KEY: missing/],
    [
      { LUMBAR_DESTINATIONS: 'PACS@h:1', LUMBAR_EXPORT_TLS_DESTINATIONS: 'PACS@h:1' },
      /LUMBAR_EXPORT_TLS_DESTINATIONS: set only with LUMBAR_EXPORT_TLS_CA/,
    ],
    [
      {
        LUMBAR_DESTINATIONS: 'PACS@h:1',
        LUMBAR_EXPORT_TLS_CA: '/ca.pem',
        LUMBAR_EXPORT_TLS_DESTINATIONS: 'PACS@h:2',
      },
      /LUMBAR_EXPORT_TLS_DESTINATIONS: "PACS@h:2" is not one of LUMBAR_DESTINATIONS \(PACS@h:1\)/,
    ],
    [
      { LUMBAR_EXPORT_TLS_CA: '/ca.pem', LUMBAR_EXPORT_TLS_DESTINATIONS: 'PACS@h' },
      /LUMBAR_EXPORT_TLS_DESTINATIONS: "PACS@h" is not AE@host:port/,
    ],
  ])('refuses %j with a sentence naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe('start-up checks', () => {
  it('refuses a malformed LUMBAR_BOOTSTRAP_API_KEY without echoing it, takes a well-formed one', () => {
    expect(() => loadConfig({ LUMBAR_BOOTSTRAP_API_KEY: 'secret-value' })).toThrow(
      /^LUMBAR_BOOTSTRAP_API_KEY: not an API key \(12 characters\): it must look like lk_/,
    );
    expect(() => loadConfig({ LUMBAR_BOOTSTRAP_API_KEY: 'secret-value' })).not.toThrow(/secret/);
    const key = 'lk_abcd1234_0123456789abcdefghijklmnopqrstuv';
    expect(loadConfig({ LUMBAR_BOOTSTRAP_API_KEY: key }).api.bootstrapApiKey).toBe(key);
    expect(loadConfig({ LUMBAR_BOOTSTRAP_API_KEY: '' }).api.bootstrapApiKey).toBeNull();
  });

  it('reads the analysis settings in loadConfig: a bad thread count or provider stops the start', () => {
    const base = { LUMBAR_DATABASE_URL: 'postgresql://localhost/x' };
    expect(loadConfig(base).worker).toMatchObject({ providers: 'cpu', intraOpThreads: null });
    expect(
      loadConfig({ ...base, LUMBAR_INTRA_OP_THREADS: '2', LUMBAR_EXECUTION_PROVIDERS: 'cuda, cpu' }).worker,
    ).toMatchObject({ providers: 'cuda,cpu', intraOpThreads: 2 });
    expect(() => loadConfig({ ...base, LUMBAR_INTRA_OP_THREADS: 'four' })).toThrow(
      'LUMBAR_INTRA_OP_THREADS: "four" is not an integer from 1 to 64',
    );
    expect(() => loadConfig({ ...base, LUMBAR_INTRA_OP_THREADS: '0' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, LUMBAR_EXECUTION_PROVIDERS: 'gpu' })).toThrow(
      /LUMBAR_EXECUTION_PROVIDERS: unknown execution provider "gpu"/,
    );
    expect(parseIntraOpThreads(undefined)).toBeUndefined();
    expect(parseIntraOpThreads('8', '--threads')).toBe(8);
    expect(() => parseIntraOpThreads('65', '--threads')).toThrow(/^--threads: "65"/);
    expect(parseExecutionProviders('')).toEqual(['cpu']);
  });

  it('checkModelsDir: a missing folder or a file is refused naming LUMBAR_MODELS_DIR; unset passes', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lumbar-models-'));
    const file = join(dir, 'file');
    writeFileSync(file, '');
    expect(() => checkModelsDir(loadConfig({ LUMBAR_MODELS_DIR: dir }))).not.toThrow();
    expect(() => checkModelsDir(loadConfig({}))).not.toThrow();
    expect(() => checkModelsDir(loadConfig({ LUMBAR_MODELS_DIR: join(dir, 'none') }))).toThrow(
      new ConfigError(
        `LUMBAR_MODELS_DIR: cannot read the models folder "${join(dir, 'none')}" (no such folder)`,
      ),
    );
    expect(() => checkModelsDir(loadConfig({ LUMBAR_MODELS_DIR: file }))).toThrow(
      /is a file, not the models/,
    );
  });

  it('redactUrl hides a password; databaseUrlVariable names the variable that was used', () => {
    expect(redactUrl('postgresql://u:pw@h:5432/db')).toBe('postgresql://u:***@h:5432/db');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    expect(databaseUrlVariable({ DATABASE_URL: 'x' })).toBe('DATABASE_URL');
    expect(databaseUrlVariable({})).toBe('LUMBAR_DATABASE_URL');
  });
});
