import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface Sealed {
  /** The 96-bit IV (NIST SP 800-38D §8.2.2: random IVs, one per message). */
  readonly iv: Uint8Array;
  /** Ciphertext followed by the 128-bit authentication tag. */
  readonly ciphertext: Uint8Array;
}

function checkKey(key: Uint8Array): void {
  if (key.byteLength !== 32) throw new TypeError('an AES-256-GCM key must be 32 bytes');
}

/** AES-256-GCM with a random IV; `aad` is authenticated but not encrypted. */
export function seal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Sealed {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { iv, ciphertext: Buffer.concat([body, cipher.getAuthTag()]) };
}

/**
 * Opens what {@link seal} produced. Throws when the key, IV, ciphertext or `aad` differ from
 * the ones sealed with (GCM's tag check), so a blob moved to another context never opens.
 */
export function open(key: Uint8Array, sealed: Sealed, aad: Uint8Array): Uint8Array {
  checkKey(key);
  if (sealed.iv.byteLength !== IV_BYTES || sealed.ciphertext.byteLength < TAG_BYTES) {
    throw new Error('malformed AES-GCM input');
  }
  const ct = Buffer.from(sealed.ciphertext);
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(ct.subarray(ct.byteLength - TAG_BYTES));
  return Buffer.concat([decipher.update(ct.subarray(0, ct.byteLength - TAG_BYTES)), decipher.final()]);
}
