import { readFileSync, statSync } from 'node:fs';
import { LumbarError } from './errors';

/** A setting that cannot be used: the process refuses to start and says which one and why. */
export class ConfigError extends LumbarError {
  constructor(message: string) {
    super('CONFIG', message);
    this.name = 'ConfigError';
  }
}

/** A DICOM peer: AE title plus host and port (port 0 where only the caller's address matters). */
export interface DicomPeer {
  aeTitle: string;
  host: string;
  port: number;
}

export interface Config {
  databaseUrl: string;
  redisUrl: string;
  /** BullMQ key prefix: several installations (or test runs) can share one Redis. */
  queuePrefix: string;
  /** Where received instances and analysis outputs are stored (instances/, outputs/). */
  dataDir: string;
  /**
   * Where instances and outputs live for the other machines (LUMBAR_STORAGE): `fs`, the data folder alone (the
   * default); `s3`, also a bucket of an S3-compatible object store, so that the services share nothing but
   * PostgreSQL, Redis and the bucket (packages/storage, docs/CONFIGURATION.md "Object store").
   */
  storage: StorageConfig;
  logLevel: string;
  dicom: {
    aeTitle: string;
    /** Address to listen on (LUMBAR_DICOM_HOST); default all interfaces. */
    host: string;
    port: number;
    /** Calling AE title @ host pairs allowed to associate; `*` matches any AE title or any host. */
    allowedCallers: { aeTitle: string; host: string }[];
    maxAssociations: number;
    sopClasses: string[];
    transferSyntaxes: string[];
    /** DICOM over TLS on the listening port (PEM files); null = plain TCP. With `caFile`, callers must show a
     * certificate signed by it (mutual TLS). */
    tls: { certFile: string; keyFile: string; caFile: string | null } | null;
    /** The C-STORE SCP implementation (LUMBAR_DICOM_SCP): `lean` (services/receiver/src/dimse, on node:net) or
     * `dcmjs-dimse` (the npm package). */
    scp: DicomScpKind;
  };
  /** Quiet period after the last instance of a study before it is analysed. */
  stableSeconds: number;
  destinations: DicomPeer[];
  worker: {
    /** Studies analysed at once by one worker: the size of its pool of analysis processes. */
    concurrency: number;
    analysisTimeoutMs: number;
    modelsDir: string | null;
    providers: string;
    /** ONNX Runtime intra-op threads of each analysis (LUMBAR_INTRA_OP_THREADS); null: the cores, at most 4. */
    intraOpThreads: number | null;
    /** An analysis process whose resident memory grows past this (MB) is killed and replaced. */
    memoryLimitMb: number;
    /** How many times a study is tried again in a fresh process after a timeout, crash or memory kill. */
    analysisRetries: number;
    /** GPU ids (LUMBAR_GPU_DEVICES), one analysis process each, when the providers name a GPU; null: GPU 0. */
    gpuDevices: string[] | null;
    /** On SIGTERM, how long running analyses may take to finish before they are released (ms). */
    shutdownGraceMs: number;
  };
  export: {
    attempts: number;
    backoffMs: number;
    timeoutMs: number;
    /** DICOM over TLS to the destinations, trusting certificates signed by `caFile`; with `certFile` and
     * `keyFile` we present our own certificate (mutual TLS). `destinations`: the `AE@host:port` of those that
     * speak TLS, the others plain TCP; null = all of them. null = plain TCP everywhere. */
    tls: {
      caFile: string;
      certFile: string | null;
      keyFile: string | null;
      destinations: string[] | null;
    } | null;
  };
  api: { host: string; port: number; bootstrapApiKey: string | null };
  reconcileSeconds: number;
}

/** An S3-compatible bucket (LUMBAR_S3_*): AWS S3, MinIO, Ceph RGW, moto... */
export interface S3Settings {
  /** Endpoint URL (LUMBAR_S3_ENDPOINT), e.g. http://minio:9000; null = AWS S3 of the region. */
  endpoint: string | null;
  region: string;
  bucket: string;
  /** Key prefix, `` or ending in `/` (LUMBAR_S3_PREFIX): several installations can share one bucket. */
  prefix: string;
  /** Static credentials; null = the AWS SDK's default chain (AWS_ACCESS_KEY_ID..., profile, IAM role). */
  accessKeyId: string | null;
  secretAccessKey: string | null;
  /** Path-style addressing (http://host/bucket/key), which MinIO and moto need; default true with an endpoint. */
  forcePathStyle: boolean;
  /** How long one request may take (connect and answer), ms, before it is tried again or fails. */
  timeoutMs: number;
}

export type StorageConfig = { kind: 'fs' } | { kind: 's3'; s3: S3Settings };

export const MR_STORAGE = '1.2.840.10008.5.1.4.1.1.4';
export const ENHANCED_MR_STORAGE = '1.2.840.10008.5.1.4.1.1.4.1';

/** Transfer syntaxes the pipeline decodes (packages/dicom), accepted by default. */
export const DEFAULT_TRANSFER_SYNTAXES = [
  '1.2.840.10008.1.2', // implicit VR little endian
  '1.2.840.10008.1.2.1', // explicit VR little endian
  '1.2.840.10008.1.2.2', // explicit VR big endian (retired)
  '1.2.840.10008.1.2.5', // RLE lossless
  '1.2.840.10008.1.2.4.57', // JPEG lossless
  '1.2.840.10008.1.2.4.70', // JPEG lossless SV1
  '1.2.840.10008.1.2.4.80', // JPEG-LS lossless
  '1.2.840.10008.1.2.4.81', // JPEG-LS near-lossless
  '1.2.840.10008.1.2.4.90', // JPEG 2000 lossless
  '1.2.840.10008.1.2.4.91', // JPEG 2000
];

/** `AE@host:port` (or `AE@host` when `withPort` is false) as a peer; null when the text is not that shape. */
export function parsePeer(text: string, withPort = true): DicomPeer | null {
  const m = (withPort ? /^([^@]+)@([^:]+):(\d+)$/ : /^([^@]+)@([^:]+)$/).exec(text.trim());
  return m ? { aeTitle: m[1].trim(), host: m[2].trim(), port: withPort ? Number(m[3]) : 0 } : null;
}

/** The `AE@host:port` form of a peer, as export rows name their destination. */
export const formatPeer = (p: DicomPeer): string => `${p.aeTitle}@${p.host}:${p.port}`;

function parsePeerList(name: string, raw: string, needPort: boolean): DicomPeer[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const peer = parsePeer(item, needPort);
      if (!peer) {
        throw new ConfigError(
          `${name}: "${item}" is not ${needPort ? 'AE@host:port' : 'AE@host'} (comma-separated list)`,
        );
      }
      if (peer.aeTitle !== '*' && (peer.aeTitle.length > 16 || /\\/.test(peer.aeTitle))) {
        throw new ConfigError(`${name}: AE title "${peer.aeTitle}" is longer than 16 characters`);
      }
      return peer;
    });
}

function int(env: NodeJS.ProcessEnv, name: string, dflt: number, min = 0, max = 2 ** 31): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`${name}: "${raw}" is not an integer between ${min} and ${max}`);
  }
  return v;
}

/** The ONNX Runtime execution providers the node knows (packages/inference ExecutionProvider). */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'tensorrt'] as const;

/**
 * ONNX Runtime intra-op threads from a flag or LUMBAR_INTRA_OP_THREADS: undefined when not given, an integer
 * from 1 to 64 otherwise; `source` names the flag and variable in the error.
 */
export function parseIntraOpThreads(
  raw: string | undefined,
  source = 'LUMBAR_INTRA_OP_THREADS',
): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1 || v > 64)
    throw new ConfigError(`${source}: "${raw}" is not an integer from 1 to 64`);
  return v;
}

/** Execution providers by preference, e.g. "cuda,cpu" (LUMBAR_EXECUTION_PROVIDERS); default ["cpu"]. */
export function parseExecutionProviders(
  raw: string | undefined,
  source = 'LUMBAR_EXECUTION_PROVIDERS',
): (typeof EXECUTION_PROVIDERS)[number][] {
  if (raw === undefined || raw.trim() === '') return ['cpu'];
  const out = raw.split(',').map((p) => p.trim());
  const bad = out.filter((p) => !(EXECUTION_PROVIDERS as readonly string[]).includes(p));
  if (bad.length || out.length === 0)
    throw new ConfigError(
      `${source}: unknown execution provider ${JSON.stringify(bad[0] ?? raw)} (expected ${EXECUTION_PROVIDERS.join(', ')}, comma-separated)`,
    );
  return out as (typeof EXECUTION_PROVIDERS)[number][];
}

function list(env: NodeJS.ProcessEnv, name: string, dflt: string[]): string[] {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return dflt;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The C-STORE SCP implementations the receiver has (LUMBAR_DICOM_SCP). */
export const DICOM_SCP_KINDS = ['lean', 'dcmjs-dimse'] as const;
export type DicomScpKind = (typeof DICOM_SCP_KINDS)[number];
export const DEFAULT_DICOM_SCP: DicomScpKind = 'lean';

function dicomScp(env: NodeJS.ProcessEnv): DicomScpKind {
  const raw = env.LUMBAR_DICOM_SCP?.trim() || DEFAULT_DICOM_SCP;
  if (!(DICOM_SCP_KINDS as readonly string[]).includes(raw))
    throw new ConfigError(`LUMBAR_DICOM_SCP: "${raw}" is not one of ${DICOM_SCP_KINDS.join(', ')}`);
  return raw as DicomScpKind;
}

function dicomTls(env: NodeJS.ProcessEnv): Config['dicom']['tls'] {
  const cert = env.LUMBAR_DICOM_TLS_CERT || '';
  const key = env.LUMBAR_DICOM_TLS_KEY || '';
  const ca = env.LUMBAR_DICOM_TLS_CA || '';
  if (!cert && !key) {
    if (ca)
      throw new ConfigError(
        'LUMBAR_DICOM_TLS_CA: set only with LUMBAR_DICOM_TLS_CERT and LUMBAR_DICOM_TLS_KEY',
      );
    return null;
  }
  if (!cert)
    throw new ConfigError('LUMBAR_DICOM_TLS_CERT: missing (LUMBAR_DICOM_TLS_KEY is set; TLS needs both)');
  if (!key)
    throw new ConfigError('LUMBAR_DICOM_TLS_KEY: missing (LUMBAR_DICOM_TLS_CERT is set; TLS needs both)');
  return { certFile: cert, keyFile: key, caFile: ca || null };
}

function exportTls(env: NodeJS.ProcessEnv, destinations: DicomPeer[]): Config['export']['tls'] {
  const ca = env.LUMBAR_EXPORT_TLS_CA || '';
  const cert = env.LUMBAR_EXPORT_TLS_CERT || '';
  const key = env.LUMBAR_EXPORT_TLS_KEY || '';
  const only = (env.LUMBAR_EXPORT_TLS_DESTINATIONS ?? '').trim();
  if (!ca) {
    if (cert || key) throw new ConfigError('LUMBAR_EXPORT_TLS_CERT/KEY: set only with LUMBAR_EXPORT_TLS_CA');
    if (only) throw new ConfigError('LUMBAR_EXPORT_TLS_DESTINATIONS: set only with LUMBAR_EXPORT_TLS_CA');
    return null;
  }
  if (Boolean(cert) !== Boolean(key))
    throw new ConfigError(
      `${cert ? 'LUMBAR_EXPORT_TLS_KEY' : 'LUMBAR_EXPORT_TLS_CERT'}: missing (TLS needs both)`,
    );
  let tlsDestinations: string[] | null = null;
  if (only) {
    const known = new Set(destinations.map(formatPeer));
    tlsDestinations = parsePeerList('LUMBAR_EXPORT_TLS_DESTINATIONS', only, true).map(formatPeer);
    const stranger = tlsDestinations.find((d) => !known.has(d));
    if (stranger)
      throw new ConfigError(
        `LUMBAR_EXPORT_TLS_DESTINATIONS: "${stranger}" is not one of LUMBAR_DESTINATIONS (${[...known].join(', ') || 'none'})`,
      );
  }
  return { caFile: ca, certFile: cert || null, keyFile: key || null, destinations: tlsDestinations };
}

/** The shape of an API key, `lk_<8 lowercase letters or digits>_<32+ characters>` (packages/db checks it too). */
export const API_KEY_PATTERN = /^lk_([a-z0-9]{8})_([A-Za-z0-9_-]{32,})$/;

function bootstrapApiKey(env: NodeJS.ProcessEnv): string | null {
  const key = env.LUMBAR_BOOTSTRAP_API_KEY || null;
  // The key itself is a secret: the sentence gives its length, never its text.
  if (key !== null && !API_KEY_PATTERN.test(key)) {
    throw new ConfigError(
      `LUMBAR_BOOTSTRAP_API_KEY: not an API key (${key.length} characters): it must look like ` +
        'lk_<8 lowercase letters or digits>_<32 or more letters, digits, - or _>',
    );
  }
  return key;
}

/**
 * The models folder of a node that runs the worker: LUMBAR_MODELS_DIR, when set, must be a folder that can be
 * read. Checked at start (`lumbar serve`), not in loadConfig: a receiver-only node needs no models.
 */
export function checkModelsDir(config: Config): void {
  const dir = config.worker.modelsDir;
  if (dir === null) return;
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      `LUMBAR_MODELS_DIR: cannot read the models folder "${dir}" (${code === 'ENOENT' ? 'no such folder' : (code ?? String(err))})`,
    );
  }
  if (!isDir) throw new ConfigError(`LUMBAR_MODELS_DIR: "${dir}" is a file, not the models folder`);
}

/** A connection URL fit for a log line or an error: the password, if any, replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(a URL that cannot be parsed)';
  }
}

/** Which variable gave the database URL (LUMBAR_DATABASE_URL, else DATABASE_URL), for sentences. */
export const databaseUrlVariable = (env: NodeJS.ProcessEnv): string =>
  env.LUMBAR_DATABASE_URL === undefined && env.DATABASE_URL !== undefined
    ? 'DATABASE_URL'
    : 'LUMBAR_DATABASE_URL';

/** Which variable gave the Redis URL (LUMBAR_REDIS_URL, else REDIS_URL), for sentences. */
export const redisUrlVariable = (env: NodeJS.ProcessEnv): string =>
  env.LUMBAR_REDIS_URL === undefined && env.REDIS_URL !== undefined ? 'REDIS_URL' : 'LUMBAR_REDIS_URL';

/** A PEM file named by a setting, or a refusal to start naming that setting. */
export function readPem(variable: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(
      `${variable}: cannot read "${file}" (${(err as NodeJS.ErrnoException).code ?? err})`,
    );
  }
}

/** The analysis settings of a worker (part of loadConfig; `lumbar analyze` and the engine read them too). */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): Config['worker'] {
  const gpus = list(env, 'LUMBAR_GPU_DEVICES', []);
  const badGpu = gpus.find((g) => !/^\d{1,2}$/.test(g));
  if (badGpu !== undefined) {
    throw new ConfigError(`LUMBAR_GPU_DEVICES: "${badGpu}" is not a GPU number (comma-separated, e.g. 0,1)`);
  }
  return {
    concurrency: int(env, 'LUMBAR_WORKER_CONCURRENCY', 1, 1, 64),
    analysisTimeoutMs: int(env, 'LUMBAR_ANALYSIS_TIMEOUT_MS', 300_000, 1000),
    modelsDir: env.LUMBAR_MODELS_DIR || null,
    providers: parseExecutionProviders(env.LUMBAR_EXECUTION_PROVIDERS).join(','),
    intraOpThreads: parseIntraOpThreads(env.LUMBAR_INTRA_OP_THREADS) ?? null,
    memoryLimitMb: int(env, 'LUMBAR_ANALYSIS_MEMORY_LIMIT_MB', 1500, 200, 1_000_000),
    analysisRetries: int(env, 'LUMBAR_ANALYSIS_RETRIES', 1, 0, 10),
    gpuDevices: gpus.length ? gpus : null,
    shutdownGraceMs: int(env, 'LUMBAR_SHUTDOWN_GRACE_MS', 30_000, 0, 3_600_000),
  };
}

/** The settings LUMBAR_STORAGE=s3 reads; each must be left unset with LUMBAR_STORAGE=fs. */
const S3_VARIABLES = [
  'LUMBAR_S3_BUCKET',
  'LUMBAR_S3_ENDPOINT',
  'LUMBAR_S3_REGION',
  'LUMBAR_S3_PREFIX',
  'LUMBAR_S3_ACCESS_KEY_ID',
  'LUMBAR_S3_SECRET_ACCESS_KEY',
  'LUMBAR_S3_FORCE_PATH_STYLE',
  'LUMBAR_S3_TIMEOUT_MS',
] as const;

/** LUMBAR_STORAGE and, for `s3`, the bucket's settings (docs/CONFIGURATION.md, "Object store"). */
export function loadStorageConfig(env: NodeJS.ProcessEnv = process.env): StorageConfig {
  const kind = (env.LUMBAR_STORAGE || 'fs').trim();
  if (kind !== 'fs' && kind !== 's3')
    throw new ConfigError(`LUMBAR_STORAGE: "${kind}" is not a storage kind (expected fs or s3)`);
  if (kind === 'fs') {
    const stray = S3_VARIABLES.find((v) => env[v]);
    if (stray) throw new ConfigError(`${stray}: set only with LUMBAR_STORAGE=s3 (LUMBAR_STORAGE is fs)`);
    return { kind };
  }
  const bucket = (env.LUMBAR_S3_BUCKET ?? '').trim();
  if (!bucket) throw new ConfigError('LUMBAR_S3_BUCKET: missing (LUMBAR_STORAGE=s3 needs a bucket)');
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..'))
    throw new ConfigError(
      `LUMBAR_S3_BUCKET: "${bucket}" is not a bucket name (3-63 lowercase letters, digits, . and -)`,
    );
  const rawEndpoint = (env.LUMBAR_S3_ENDPOINT ?? '').trim();
  let endpoint: string | null = null;
  if (rawEndpoint) {
    let u: URL | null = null;
    try {
      u = new URL(rawEndpoint);
    } catch {
      /* refused below */
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password)
      throw new ConfigError(
        `LUMBAR_S3_ENDPOINT: "${rawEndpoint}" is not an http(s) URL without credentials (e.g. http://minio:9000)`,
      );
    endpoint = rawEndpoint.replace(/\/+$/, '');
  }
  const region = (env.LUMBAR_S3_REGION || env.AWS_REGION || 'us-east-1').trim();
  if (!/^[a-z0-9-]{2,32}$/.test(region))
    throw new ConfigError(`LUMBAR_S3_REGION: "${region}" is not a region name (e.g. us-east-1)`);
  const rawPrefix = (env.LUMBAR_S3_PREFIX ?? '').trim().replace(/^\/+|\/+$/g, '');
  if (
    rawPrefix &&
    (!/^[A-Za-z0-9._/-]{1,200}$/.test(rawPrefix) ||
      rawPrefix.split('/').some((s) => !s || s === '.' || s === '..'))
  )
    throw new ConfigError(
      `LUMBAR_S3_PREFIX: "${env.LUMBAR_S3_PREFIX}" is not a key prefix (letters, digits, . _ - separated by /)`,
    );
  const accessKeyId = env.LUMBAR_S3_ACCESS_KEY_ID || null;
  const secretAccessKey = env.LUMBAR_S3_SECRET_ACCESS_KEY || null;
  // a secret is never quoted back: only which of the two is missing
  if ((accessKeyId === null) !== (secretAccessKey === null))
    throw new ConfigError(
      `${accessKeyId ? 'LUMBAR_S3_SECRET_ACCESS_KEY' : 'LUMBAR_S3_ACCESS_KEY_ID'}: missing (static credentials need both; ` +
        'leave both unset for the AWS SDK default chain: AWS_ACCESS_KEY_ID, a profile, an IAM role)',
    );
  const pathStyle = (env.LUMBAR_S3_FORCE_PATH_STYLE ?? '').trim();
  if (pathStyle && pathStyle !== 'true' && pathStyle !== 'false')
    throw new ConfigError(`LUMBAR_S3_FORCE_PATH_STYLE: "${pathStyle}" is not true or false`);
  return {
    kind,
    s3: {
      endpoint,
      region,
      bucket,
      prefix: rawPrefix ? `${rawPrefix}/` : '',
      accessKeyId,
      secretAccessKey,
      forcePathStyle: pathStyle ? pathStyle === 'true' : endpoint !== null,
      timeoutMs: int(env, 'LUMBAR_S3_TIMEOUT_MS', 10_000, 100, 600_000),
    },
  };
}

/**
 * The one configuration loader: every service reads its settings here, from the environment, once, at
 * start-up. A bad value stops the start with a sentence naming the variable. See docs/CONFIGURATION.md.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const aeTitle = env.LUMBAR_AE_TITLE ?? 'LUMBAR';
  if (!/^[\x20-\x5b\x5d-\x7e]{1,16}$/.test(aeTitle) || aeTitle.trim() === '') {
    throw new ConfigError(`LUMBAR_AE_TITLE: "${aeTitle}" is not a 1-16 character AE title`);
  }
  const destinations = parsePeerList('LUMBAR_DESTINATIONS', env.LUMBAR_DESTINATIONS ?? '', true);
  return {
    databaseUrl: env.LUMBAR_DATABASE_URL ?? env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/lumbar',
    redisUrl: env.LUMBAR_REDIS_URL ?? env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    queuePrefix: env.LUMBAR_QUEUE_PREFIX ?? 'lumbar',
    dataDir: env.LUMBAR_DATA_DIR ?? 'var',
    storage: loadStorageConfig(env),
    logLevel: env.LUMBAR_LOG_LEVEL ?? 'info',
    dicom: {
      aeTitle,
      host: env.LUMBAR_DICOM_HOST || '127.0.0.1',
      port: int(env, 'LUMBAR_DICOM_PORT', 11112, 0, 65535),
      allowedCallers: parsePeerList(
        'LUMBAR_ALLOWED_CALLERS',
        env.LUMBAR_ALLOWED_CALLERS ?? '*@127.0.0.1',
        false,
      ).map(({ aeTitle, host }) => ({ aeTitle, host })),
      maxAssociations: int(env, 'LUMBAR_MAX_ASSOCIATIONS', 8, 1, 1000),
      sopClasses: list(env, 'LUMBAR_SOP_CLASSES', [MR_STORAGE, ENHANCED_MR_STORAGE]),
      transferSyntaxes: list(env, 'LUMBAR_TRANSFER_SYNTAXES', DEFAULT_TRANSFER_SYNTAXES),
      tls: dicomTls(env),
      scp: dicomScp(env),
    },
    stableSeconds: int(env, 'LUMBAR_STABLE_SECONDS', 15, 0, 86400),
    destinations,
    worker: loadWorkerConfig(env),
    export: {
      attempts: int(env, 'LUMBAR_EXPORT_ATTEMPTS', 5, 1, 100),
      backoffMs: int(env, 'LUMBAR_EXPORT_BACKOFF_MS', 5000, 0),
      timeoutMs: int(env, 'LUMBAR_EXPORT_TIMEOUT_MS', 60_000, 1000),
      tls: exportTls(env, destinations),
    },
    api: {
      host: env.LUMBAR_API_HOST || '127.0.0.1',
      port: int(env, 'LUMBAR_API_PORT', 8080, 0, 65535),
      bootstrapApiKey: bootstrapApiKey(env),
    },
    reconcileSeconds: int(env, 'LUMBAR_RECONCILE_SECONDS', 60, 1),
  };
}
