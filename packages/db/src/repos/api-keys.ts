import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { API_KEY_PATTERN } from '@lumbar/core';
import type { PrismaClient } from '../generated/client';
import { audit } from './audit';

export const API_SCOPES = ['read', 'admin'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

/** The public part of a key, `lk_<prefix>_...`: 8 lowercase letters or digits. */
export const API_KEY_PREFIX_PATTERN = /^[a-z0-9]{8}$/;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Key format `lk_<prefix>_<secret>`: the prefix finds the row, only the SHA-256 of the key is stored. */
function parseKey(key: string): { prefix: string } | null {
  const m = API_KEY_PATTERN.exec(key);
  return m ? { prefix: m[1] } : null;
}

/** The public prefix of a well-formed key, or null (a malformed one gives nothing: it may be a secret). */
export function apiKeyPrefix(key: string): string | null {
  return parseKey(key)?.prefix ?? null;
}

export interface CreateApiKeyOptions {
  /** When the key stops working; null or absent: never. */
  expiresAt?: Date | null;
  /** Who creates it, for the audit trail (`cli:<user>`, `api:bootstrap`, ...); default `system`. */
  actor?: string;
}

/**
 * Creates an API key and returns it: the only time the whole key is seen. Given a key whose prefix exists,
 * the row takes the new hash, scopes and expiry and is no longer revoked. Writes the audit event
 * `apikey.create`, unless the key was already stored exactly so (`changed: false`).
 */
export async function createApiKey(
  db: PrismaClient,
  scopes: ApiScope[],
  name?: string,
  key?: string,
  opts: CreateApiKeyOptions = {},
): Promise<{ id: number; key: string; changed: boolean }> {
  const k =
    key ?? `lk_${randomBytes(6).toString('hex').slice(0, 8)}_${randomBytes(24).toString('base64url')}`;
  const parsed = parseKey(k);
  if (!parsed)
    throw new Error('an API key must look like lk_<8 lowercase letters or digits>_<32+ characters>');
  const hash = sha256(k);
  const expiresAt = opts.expiresAt ?? null;
  const before = await db.apiKey.findUnique({ where: { prefix: parsed.prefix } });
  if (
    before &&
    before.hash === hash &&
    !before.revokedAt &&
    (before.expiresAt?.getTime() ?? null) === (expiresAt?.getTime() ?? null) &&
    [...before.scopes].sort().join() === [...scopes].sort().join()
  ) {
    return { id: before.id, key: k, changed: false };
  }
  const row = await db.apiKey.upsert({
    where: { prefix: parsed.prefix },
    create: { prefix: parsed.prefix, hash, scopes, name: name ?? null, expiresAt },
    update: { hash, scopes, revokedAt: null, expiresAt },
  });
  await audit(db, {
    actor: opts.actor ?? 'system',
    action: 'apikey.create',
    subjectType: 'api-key',
    subjectId: row.prefix,
    details: {
      name: row.name,
      scopes,
      expiresAt: expiresAt ? expiresAt.toISOString() : null,
      ...(before ? { replaced: true } : {}),
    },
  });
  return { id: row.id, key: k, changed: true };
}

/** Why a key was refused (for the audit trail only: clients get one sentence for all of them). */
export type ApiKeyRefusal = 'malformed' | 'unknown' | 'revoked' | 'expired';

export type ApiKeyCheck =
  | { ok: true; prefix: string; scopes: ApiScope[] }
  | { ok: false; prefix: string | null; reason: ApiKeyRefusal };

/** Checks a key: its scopes when it is known, unrevoked, unexpired and its hash matches. */
export async function checkApiKey(db: PrismaClient, key: string, now = new Date()): Promise<ApiKeyCheck> {
  const parsed = parseKey(key);
  if (!parsed) return { ok: false, prefix: null, reason: 'malformed' };
  const { prefix } = parsed;
  const row = await db.apiKey.findUnique({ where: { prefix } });
  if (!row) return { ok: false, prefix, reason: 'unknown' };
  const a = Buffer.from(row.hash, 'hex');
  const b = Buffer.from(sha256(key), 'hex');
  // A wrong secret under a known prefix is an unknown key: its revocation or expiry is not told.
  if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, prefix, reason: 'unknown' };
  if (row.revokedAt) return { ok: false, prefix, reason: 'revoked' };
  if (row.expiresAt && row.expiresAt.getTime() <= now.getTime())
    return { ok: false, prefix, reason: 'expired' };
  void db.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => undefined);
  const scopes = row.scopes.filter((s): s is ApiScope => (API_SCOPES as readonly string[]).includes(s));
  return { ok: true, prefix, scopes };
}

/** The scopes of a valid key (known, unrevoked, unexpired); null for anything else. */
export async function verifyApiKey(db: PrismaClient, key: string): Promise<ApiScope[] | null> {
  const c = await checkApiKey(db, key);
  return c.ok ? c.scopes : null;
}

/** What may be shown of a key: never its hash. */
export interface ApiKeyInfo {
  prefix: string;
  name: string | null;
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

const INFO = {
  prefix: true,
  name: true,
  scopes: true,
  createdAt: true,
  lastUsedAt: true,
  expiresAt: true,
  revokedAt: true,
} as const;

/** Every key, oldest first, without its hash. */
export async function listApiKeys(db: PrismaClient): Promise<ApiKeyInfo[]> {
  return db.apiKey.findMany({ select: INFO, orderBy: { id: 'asc' } });
}

/** One key by its prefix, without its hash; null when there is none. */
export async function findApiKey(db: PrismaClient, prefix: string): Promise<ApiKeyInfo | null> {
  return db.apiKey.findUnique({ where: { prefix }, select: INFO });
}

/** The scopes of the key with this prefix, whatever its state; null when there is none. */
export async function findApiKeyScopes(
  db: PrismaClient,
  prefix: string,
): Promise<{ scopes: string[] } | null> {
  return db.apiKey.findUnique({ where: { prefix }, select: { scopes: true } });
}

/** `active`, `revoked` or `expired`, as of `now`. */
export function apiKeyState(k: Pick<ApiKeyInfo, 'revokedAt' | 'expiresAt'>, now = new Date()) {
  if (k.revokedAt) return 'revoked' as const;
  if (k.expiresAt && k.expiresAt.getTime() <= now.getTime()) return 'expired' as const;
  return 'active' as const;
}

/**
 * Revokes the key with this prefix and writes the audit event `apikey.revoke`. Null when no key has this
 * prefix; a key that was already revoked keeps its first revocation time (`changed: false`, no event).
 */
export async function revokeApiKey(
  db: PrismaClient,
  prefix: string,
  actor: string,
): Promise<{ key: ApiKeyInfo; changed: boolean } | null> {
  const now = new Date();
  const { count } = await db.apiKey.updateMany({
    where: { prefix, revokedAt: null },
    data: { revokedAt: now },
  });
  const key = await findApiKey(db, prefix);
  if (!key) return null;
  if (count > 0) {
    await audit(db, {
      actor,
      action: 'apikey.revoke',
      subjectType: 'api-key',
      subjectId: prefix,
      details: { name: key.name, scopes: key.scopes },
    });
  }
  return { key, changed: count > 0 };
}
