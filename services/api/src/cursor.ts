import { InputError } from '@lumbar/core';

/**
 * The feed cursor: opaque to clients (base64url of a versioned position), so that what it encodes can
 * change without breaking them. Position 0 is the start of the feed.
 */
const PREFIX = 'f1:';

export function encodeCursor(position: number): string {
  return Buffer.from(`${PREFIX}${position}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): number {
  if (cursor === undefined || cursor === '') return 0;
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const m = /^f1:(0|[1-9]\d{0,15})$/.exec(text);
  const position = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(position)) {
    throw new InputError('since: not a cursor this API issued (use nextCursor from the previous page)');
  }
  return position;
}

/**
 * The audit trail's page cursor (`GET /audit?cursor=`): opaque too, and of its own kind, so that a feed
 * cursor is not taken for one. It names the last event of the previous page; the next page holds older ones.
 */
const AUDIT_PREFIX = 'a1:';

export function encodeAuditCursor(id: number): string {
  return Buffer.from(`${AUDIT_PREFIX}${id}`, 'utf8').toString('base64url');
}

export function decodeAuditCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const text = /^[A-Za-z0-9_-]+$/.test(cursor) ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const m = /^a1:([1-9]\d{0,15})$/.exec(text);
  const id = m ? Number(m[1]) : NaN;
  if (!Number.isSafeInteger(id)) {
    throw new InputError('cursor: not a cursor this API issued (use nextCursor from the previous page)');
  }
  return id;
}
