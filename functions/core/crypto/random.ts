import { randomBytes } from 'node:crypto';

/** 32 bytes (256 bits), the size of every bearer-style id we mint (state, session, login). */
export const TOKEN_BYTES = 32;

/** A fresh random value of `bytes` bytes, base64url without padding (RFC 4648 §5). */
export function randomToken(bytes: number = TOKEN_BYTES): string {
  return randomBytes(bytes).toString('base64url');
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * True when `value` could have come from {@link randomToken} with this many bytes: the exact
 * length, the base64url alphabet only, and the canonical encoding (the unused low bits of the
 * last character are zero). Callers use it to refuse forged or truncated values before any
 * storage look-up.
 */
export function isRandomToken(value: unknown, bytes: number = TOKEN_BYTES): value is string {
  if (typeof value !== 'string') return false;
  if (value.length !== Math.ceil((bytes * 8) / 6) || !BASE64URL.test(value)) return false;
  return Buffer.from(value, 'base64url').toString('base64url') === value;
}
