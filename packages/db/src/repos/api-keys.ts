import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { API_KEY_PATTERN } from '@lumbar/core';
import type { PrismaClient } from '../generated/client';

export const API_SCOPES = ['read', 'admin'] as const;
export type ApiScope = (typeof API_SCOPES)[number];

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Key format `lk_<prefix>_<secret>`: the prefix finds the row, only the SHA-256 of the key is stored. */
function parseKey(key: string): { prefix: string } | null {
  const m = API_KEY_PATTERN.exec(key);
  return m ? { prefix: m[1] } : null;
}

/** Creates an API key and returns it: the only time the whole key is seen. */
export async function createApiKey(
  db: PrismaClient,
  scopes: ApiScope[],
  name?: string,
  key?: string,
): Promise<{ id: number; key: string }> {
  const k =
    key ?? `lk_${randomBytes(6).toString('hex').slice(0, 8)}_${randomBytes(24).toString('base64url')}`;
  const parsed = parseKey(k);
  if (!parsed)
    throw new Error('an API key must look like lk_<8 lowercase letters or digits>_<32+ characters>');
  const row = await db.apiKey.upsert({
    where: { prefix: parsed.prefix },
    create: { prefix: parsed.prefix, hash: sha256(k), scopes, name: name ?? null },
    update: { hash: sha256(k), scopes, revokedAt: null },
  });
  return { id: row.id, key: k };
}

/** The scopes of a valid, unrevoked key; null for anything else. */
export async function verifyApiKey(db: PrismaClient, key: string): Promise<ApiScope[] | null> {
  const parsed = parseKey(key);
  if (!parsed) return null;
  const row = await db.apiKey.findUnique({ where: { prefix: parsed.prefix } });
  if (!row || row.revokedAt) return null;
  const a = Buffer.from(row.hash, 'hex');
  const b = Buffer.from(sha256(key), 'hex');
  if (a.length !== b.length || !timingSafeEqual(a, b)) return null;
  void db.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => undefined);
  return row.scopes.filter((s): s is ApiScope => (API_SCOPES as readonly string[]).includes(s));
}
