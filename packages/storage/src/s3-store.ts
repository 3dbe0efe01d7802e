import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { InputError, NotFoundError, UnavailableError, type S3Settings } from '@lumbar/core';
import { isSafeKey, isSafePrefix, type ObjectStore } from './store';

/** Up to this size a file is PUT from memory (one request, checksummed); a larger one streams from disk. */
const IN_MEMORY_PUT_BYTES = 64 * 1024 * 1024;

/** How many times the SDK sends one request (with backoff) before the error reaches the caller. */
const MAX_ATTEMPTS = 3;

type S3Failure = Error & { name: string; $metadata?: { httpStatusCode?: number }; code?: string };

const statusOf = (err: unknown): number | undefined => (err as S3Failure).$metadata?.httpStatusCode;

/**
 * A bucket of an S3-compatible object store (AWS S3, MinIO, Ceph RGW, moto) as the ObjectStore: key `k` is
 * the object `<prefix>k`. Durability is the store's: put() resolves only when the PUT answered 200, which S3
 * and MinIO give once the object is stored (and readable from every machine).
 */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;

  constructor(settings: S3Settings) {
    this.bucket = settings.bucket;
    this.prefix = settings.prefix;
    const config: S3ClientConfig = {
      region: settings.region,
      forcePathStyle: settings.forcePathStyle,
      maxAttempts: MAX_ATTEMPTS,
      requestHandler: {
        connectionTimeout: Math.min(settings.timeoutMs, 5000),
        requestTimeout: settings.timeoutMs,
      },
    };
    if (settings.endpoint) config.endpoint = settings.endpoint;
    if (settings.accessKeyId && settings.secretAccessKey)
      config.credentials = {
        accessKeyId: settings.accessKeyId,
        secretAccessKey: settings.secretAccessKey,
      };
    this.client = new S3Client(config);
  }

  private objectKey(key: string): string {
    if (!isSafeKey(key))
      throw new InputError(`object key "${key.slice(0, 200)}" is not a plain relative key`);
    return this.prefix + key;
  }

  location(key: string): string {
    return `s3://${this.bucket}/${this.objectKey(key)}`;
  }

  keyOf(location: string): string | null {
    const head = `s3://${this.bucket}/${this.prefix}`;
    if (!location.startsWith(head)) return null;
    const key = location.slice(head.length);
    return isSafeKey(key) ? key : null;
  }

  /** The error a caller sees: NotFoundError for a missing key, UnavailableError for anything else. */
  private failure(err: unknown, what: string): Error {
    if (err instanceof InputError) return err;
    const e = err as S3Failure;
    const status = statusOf(err);
    if (e.name === 'NoSuchKey' || e.name === 'NotFound' || (status === 404 && e.name !== 'NoSuchBucket'))
      return new NotFoundError(`no object ${what} in s3://${this.bucket}`);
    // AggregateError (every address refused) carries its reason in .errors; the SDK's own in name/message
    const inner = (err as { errors?: Error[] }).errors?.[0];
    const why = [e.name && e.name !== 'Error' ? e.name : '', e.message || inner?.message || e.code || '']
      .filter(Boolean)
      .join(': ');
    return new UnavailableError(
      `object store s3://${this.bucket} unavailable (${what}): ${why}${status ? ` (HTTP ${status})` : ''}`,
    );
  }

  async putFile(key: string, file: string, opts: { ifAbsent?: boolean } = {}) {
    const Key = this.objectKey(key);
    try {
      const { size } = await stat(file);
      const Body = size <= IN_MEMORY_PUT_BYTES ? await readFile(file) : createReadStream(file);
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key,
          Body,
          ContentLength: size,
          ContentType: 'application/octet-stream',
          ...(opts.ifAbsent ? { IfNoneMatch: '*' } : {}),
        }),
      );
      return { created: true };
    } catch (err) {
      // If-None-Match: * refused (412): an object is already there and stays (409: one is being written now)
      if (opts.ifAbsent && (statusOf(err) === 412 || statusOf(err) === 409)) return { created: false };
      throw this.failure(err, key);
    }
  }

  async put(key: string, body: Buffer): Promise<void> {
    const Key = this.objectKey(key);
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: body }));
    } catch (err) {
      throw this.failure(err, key);
    }
  }

  async get(key: string): Promise<Buffer> {
    const Key = this.objectKey(key);
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (err) {
      throw this.failure(err, key);
    }
  }

  async getToFile(key: string, file: string): Promise<void> {
    const Key = this.objectKey(key);
    await mkdir(path.dirname(file), { recursive: true });
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      await pipeline(r.Body as Readable, createWriteStream(file));
    } catch (err) {
      await rm(file, { force: true }).catch(() => undefined);
      throw this.failure(err, key);
    }
  }

  async list(prefix: string): Promise<string[]> {
    if (!isSafePrefix(prefix))
      throw new InputError(`object prefix "${prefix.slice(0, 200)}" is not a plain prefix`);
    const keys: string[] = [];
    let token: string | undefined;
    try {
      do {
        const r = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ContinuationToken: token,
          }),
        );
        for (const o of r.Contents ?? []) if (o.Key) keys.push(o.Key.slice(this.prefix.length));
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      throw this.failure(err, `${prefix}*`);
    }
    return keys.sort();
  }

  async check(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) throw new UnavailableError(`object store: no bucket ${this.bucket}`);
      if (status === 403)
        throw new UnavailableError(`object store: access to bucket ${this.bucket} denied (credentials?)`);
      throw this.failure(err, 'the bucket');
    }
  }

  close(): void {
    this.client.destroy();
  }
}
