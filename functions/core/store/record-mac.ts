import { createHmac, timingSafeEqual } from 'node:crypto';
import { deriveKey } from '../crypto/derive-key.ts';
import type { ItemKey } from './keys.ts';

/**
 * Authenticated table records. Write access to the table alone must not let anyone decide where
 * a code, a token or a client secret is sent, or who a session, code, grant or refresh token
 * belongs to. Every record kind whose content decides a destination or an identity carries an
 * HMAC-SHA256 tag over its key and those fields, under a key the functions derive from the
 * stack's sealing secret (Secrets Manager) — a key the table never sees. A record whose tag does
 * not verify is treated as absent.
 *
 * What a tag cannot do: stop a table writer from deleting records, or from putting back a record
 * exactly as it was earlier (its old tag still verifies). Lifecycle fields that change in place
 * with conditional updates (a code's `redeemedAt`, a refresh token's `state`, a grant's expiry)
 * are therefore not covered; a tag only guarantees the gateway wrote that content for that key.
 */
export interface RecordMac {
  /** The tag for a record's authenticated fields, bound to its primary key and kind. */
  tag(key: ItemKey, fields: readonly unknown[]): string;
  /** Whether `tag` is the tag of these fields under this key. */
  verify(key: ItemKey, fields: readonly unknown[], tag: unknown): boolean;
  /**
   * A 256-bit key for one purpose, derived from the record key: sealed record data whose key
   * must involve a secret the table never sees (single-use state data).
   */
  subkey(label: string): Uint8Array;
}

/** The record key from the stack's sealing secret (or the local gateway's sealing key file). */
export function recordKeyFrom(secret: string | Uint8Array): Uint8Array {
  return deriveKey(secret, 'record-mac/v1');
}

/**
 * A canonical JSON form: object keys sorted at every level (DynamoDB maps come back in any order),
 * `undefined` as `null`. Only plain data is stored, so this covers every field we tag.
 */
function canonical(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function createRecordMac(key: Uint8Array): RecordMac {
  if (key.byteLength !== 32) throw new TypeError('a record key must be 32 bytes');
  const tagKey = deriveKey(key, 'record-tag/v1');
  const compute = (itemKey: ItemKey, fields: readonly unknown[]) =>
    createHmac('sha256', Buffer.from(tagKey))
      .update(canonical(['mcp-edge/record/v1', itemKey.pk, itemKey.sk, fields]))
      .digest();
  return {
    tag: (itemKey, fields) => compute(itemKey, fields).toString('base64url'),
    verify(itemKey, fields, tag) {
      if (typeof tag !== 'string' || tag.length !== 43) return false;
      const given = Buffer.from(tag, 'base64url');
      return given.byteLength === 32 && timingSafeEqual(given, compute(itemKey, fields));
    },
    // Its own label prefix: no subkey label can derive the tag key.
    subkey: (label) => deriveKey(key, `subkey/${label}`),
  };
}
