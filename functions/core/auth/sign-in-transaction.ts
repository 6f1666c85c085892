import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { open, seal } from '../crypto/aes-gcm.ts';
import { deriveKey } from '../crypto/derive-key.ts';
import { sha256Base64url } from '../crypto/hash.ts';
import { randomToken } from '../crypto/random.ts';

/**
 * The sign-in transaction, sealed in a cookie instead of a table record, so `/.pomerium/login`
 * costs no table write before the person has proved anything (issue 9 item 3).
 *
 * The cookie holds one 256-bit seed; the OAuth `state`, the OpenID Connect `nonce` and the PKCE
 * verifier are each derived from it with HKDF under their own label, so knowing the two that travel
 * through the identity provider (`state`, `nonce`) tells nothing of the verifier. With the seed go
 * the expiry, whether the next sign-in must be a fresh login (after a sign-out), and the return path
 * (raw DEFLATE when that is shorter, compressed on its own so nothing secret shares its window).
 * All of it is AES-256-GCM-sealed under a key only the functions hold; the route's origin and the
 * SHA-256 of the browser-binding cookie are the additional data, so the value opens on no other
 * route and in no other browser.
 *
 * Single use without a table write: the login callback accepts the cookie only with the `state`
 * derived from it, clears it in its answer, and the identity provider redeems a code once. A copy
 * of the cookie replayed with its callback URL gets as far as the code exchange, which the provider
 * refuses (`invalid_grant`); PKCE binds the code to this transaction's verifier, so a code from
 * another sign-in does not redeem with it either.
 */

/** How long a sign-in may take, start to callback. */
export const SIGN_IN_TTL_SECONDS = 600;

/**
 * The longest cookie value we set: under browsers' 4096-byte limit per cookie with its name and
 * attributes, and a third of API Gateway's 10,240 bytes for the request line and all headers.
 */
export const MAX_SIGN_IN_COOKIE = 3000;

const VERSION = 1;
const FRESH_LOGIN = 0b01;
const DEFLATED = 0b10;
const HEADER = 1 + 1 + 6 + 32;

export interface SignInTransaction {
  readonly state: string;
  readonly nonce: string;
  readonly codeVerifier: string;
  /** A same-origin path to return to after sign-in. */
  readonly returnTo: string;
  /** The sign-in must show the identity provider's login form (a sign-out happened in this browser). */
  readonly freshLogin: boolean;
  /** Epoch ms when the sign-in started. */
  readonly startedAt: number;
  /** Epoch ms after which the callback is refused. */
  readonly expiresAt: number;
}

export type OpenResult =
  | { readonly ok: true; readonly transaction: SignInTransaction }
  | { readonly ok: false; readonly code: 'invalid' | 'expired' };

export interface SignInTransactions {
  /** A new transaction and its cookie value, or `undefined` when the return path makes it too long. */
  create(
    bound: { readonly route: string; readonly binding: string },
    data: { readonly returnTo: string; readonly freshLogin: boolean },
  ): { value: string; transaction: SignInTransaction } | undefined;
  /** The transaction in a cookie value, for this route and browser, before it expires. */
  open(bound: { readonly route: string; readonly binding: string }, value: string | undefined): OpenResult;
}

function derive(seed: Uint8Array, label: string): string {
  return Buffer.from(deriveKey(seed, `sign-in/${label}`)).toString('base64url');
}

function aad(route: string, binding: string): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(['mcp-edge/sign-in/v1', route, sha256Base64url(binding)]));
}

function transactionOf(seed: Uint8Array, flags: number, expiresAt: number, returnTo: string, ttl: number) {
  return {
    state: derive(seed, 'state'),
    nonce: derive(seed, 'nonce'),
    codeVerifier: derive(seed, 'pkce-verifier'),
    returnTo,
    freshLogin: (flags & FRESH_LOGIN) !== 0,
    startedAt: expiresAt - ttl * 1000,
    expiresAt,
  };
}

/** Sign-in transactions sealed under `key` (32 bytes, used for nothing else). */
export function createSignInTransactions(
  key: Uint8Array,
  options: { readonly now?: () => number; readonly ttlSeconds?: number } = {},
): SignInTransactions {
  if (key.byteLength !== 32) throw new TypeError('the sign-in key must be 32 bytes');
  const now = options.now ?? Date.now;
  const ttl = options.ttlSeconds ?? SIGN_IN_TTL_SECONDS;

  return {
    create(bound, data) {
      if (!bound.binding) throw new TypeError('a sign-in must be bound to a browser');
      const seed = Buffer.from(randomToken(), 'base64url');
      const expiresAt = now() + ttl * 1000;
      const path = Buffer.from(data.returnTo, 'utf8');
      const deflated = deflateRawSync(path, { level: 9 });
      const smaller = deflated.byteLength < path.byteLength;
      const flags = (data.freshLogin ? FRESH_LOGIN : 0) | (smaller ? DEFLATED : 0);
      const header = Buffer.alloc(HEADER);
      header.writeUInt8(VERSION, 0);
      header.writeUInt8(flags, 1);
      header.writeUIntBE(expiresAt, 2, 6);
      header.set(seed, 8);
      const box = seal(
        key,
        Buffer.concat([header, smaller ? deflated : path]),
        aad(bound.route, bound.binding),
      );
      const value = Buffer.concat([box.iv, box.ciphertext]).toString('base64url');
      if (value.length > MAX_SIGN_IN_COOKIE) return undefined;
      return { value, transaction: transactionOf(seed, flags, expiresAt, data.returnTo, ttl) };
    },

    open(bound, value) {
      if (!value || value.length > MAX_SIGN_IN_COOKIE || !/^[A-Za-z0-9_-]+$/.test(value)) {
        return { ok: false, code: 'invalid' };
      }
      const bytes = Buffer.from(value, 'base64url');
      let plain: Buffer;
      try {
        plain = Buffer.from(
          open(
            key,
            { iv: bytes.subarray(0, 12), ciphertext: bytes.subarray(12) },
            aad(bound.route, bound.binding),
          ),
        );
      } catch {
        // Changed, made for another route or browser, or under another key: we cannot tell which.
        return { ok: false, code: 'invalid' };
      }
      if (plain.byteLength < HEADER || plain.readUInt8(0) !== VERSION) return { ok: false, code: 'invalid' };
      const flags = plain.readUInt8(1);
      const expiresAt = plain.readUIntBE(2, 6);
      if (!(expiresAt > now())) return { ok: false, code: 'expired' };
      const rest = plain.subarray(HEADER);
      let returnTo: string;
      try {
        returnTo = (flags & DEFLATED ? inflateRawSync(rest, { maxOutputLength: 16_384 }) : rest).toString(
          'utf8',
        );
      } catch {
        return { ok: false, code: 'invalid' };
      }
      return {
        ok: true,
        transaction: transactionOf(plain.subarray(8, HEADER), flags, expiresAt, returnTo, ttl),
      };
    },
  };
}
