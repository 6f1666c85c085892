import { createHash } from 'node:crypto';

/**
 * SHA-256 of a value, base64url without padding. Used to key stored records by a secret we
 * hand out (state, session id, browser-binding cookie) without storing the secret itself: a
 * reader of the table cannot turn an item back into a usable cookie or state.
 */
export function sha256Base64url(value: string | Uint8Array): string {
  return createHash('sha256').update(value).digest('base64url');
}
