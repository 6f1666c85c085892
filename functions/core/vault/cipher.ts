import { open, seal } from '../crypto/aes-gcm.ts';
import { sha256Base64url } from '../crypto/hash.ts';

/**
 * The authenticated context of a vault item's secrets. Every encryption binds the ciphertext
 * to it, so a blob copied under another route, user or issuer does not decrypt.
 */
export interface EncryptionContext {
  /** The route's origin. */
  readonly route: string;
  /** The gateway user (`userIdFor(issuer, sub)`: the IdP subject qualified by its issuer). */
  readonly user: string;
  /** The upstream authorization server's issuer the tokens came from. */
  readonly issuer: string;
}

/** What is stored: everything needed to decrypt except the key and the context. Plain strings only. */
export interface EncryptedBlob {
  readonly v: 1;
  readonly alg: 'A256GCM';
  /** Which key sealed it: `local:<id>` for a local key, the KMS key ARN for envelope encryption. */
  readonly kid: string;
  /** base64url IV (96 bits). */
  readonly iv: string;
  /** base64url ciphertext with the GCM tag appended. */
  readonly ct: string;
  /** base64url KMS-encrypted data key (envelope encryption only). */
  readonly edk?: string;
}

export interface Cipher {
  encrypt(plaintext: Uint8Array, context: EncryptionContext): Promise<EncryptedBlob>;
  /** Rejects with {@link DecryptError} when the blob, key or context do not match. */
  decrypt(blob: EncryptedBlob, context: EncryptionContext): Promise<Uint8Array>;
}

/** A blob that does not open: wrong context, wrong or unknown key, or tampering. */
export class DecryptError extends Error {
  override readonly name = 'DecryptError';
  readonly code = 'decrypt_failed';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The canonical AAD for a context: a JSON array with a version label and the three fields in a
 * fixed order. JSON string escaping makes it unambiguous (no separator a value could contain).
 */
export function contextAad(context: EncryptionContext): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify(['mcp-edge/vault/v1', context.route, context.user, context.issuer]),
  );
}

/** Checks the stored shape before use; a malformed blob is a decrypt failure, not a crash. */
export function checkBlob(blob: unknown): EncryptedBlob {
  const b = blob as Partial<EncryptedBlob> | undefined;
  if (
    b?.v !== 1 ||
    b.alg !== 'A256GCM' ||
    typeof b.kid !== 'string' ||
    typeof b.iv !== 'string' ||
    typeof b.ct !== 'string' ||
    (b.edk !== undefined && typeof b.edk !== 'string')
  ) {
    throw new DecryptError('malformed encrypted blob');
  }
  return b as EncryptedBlob;
}

/** A local key's id: `local:` and a short hash of the key, so a wrong key is named, not guessed. */
export function localKeyId(key: Uint8Array): string {
  return `local:${sha256Base64url(key).slice(0, 11)}`;
}

export interface LocalCipherOptions {
  /** Keys still accepted for decryption after a rotation (never used to encrypt). */
  readonly previousKeys?: readonly Uint8Array[];
}

/**
 * AES-256-GCM with a local 32-byte key, for the local gateway and tests: a random 96-bit IV
 * per encryption and the context as AAD.
 */
export function createLocalCipher(key: Uint8Array, options: LocalCipherOptions = {}): Cipher {
  const keys = new Map<string, Uint8Array>();
  for (const k of [key, ...(options.previousKeys ?? [])]) {
    if (k.byteLength !== 32) throw new TypeError('a local vault key must be 32 bytes');
    keys.set(localKeyId(k), Uint8Array.from(k));
  }
  const kid = localKeyId(key);
  const current = keys.get(kid)!;
  return {
    async encrypt(plaintext, context) {
      const sealed = seal(current, plaintext, contextAad(context));
      return {
        v: 1,
        alg: 'A256GCM',
        kid,
        iv: Buffer.from(sealed.iv).toString('base64url'),
        ct: Buffer.from(sealed.ciphertext).toString('base64url'),
      };
    },
    async decrypt(blob, context) {
      const b = checkBlob(blob);
      const k = keys.get(b.kid);
      if (!k) throw new DecryptError(`unknown vault key ${b.kid}`);
      try {
        return open(
          k,
          { iv: Buffer.from(b.iv, 'base64url'), ciphertext: Buffer.from(b.ct, 'base64url') },
          contextAad(context),
        );
      } catch (cause) {
        throw new DecryptError('vault item does not decrypt under this context', { cause });
      }
    },
  };
}
