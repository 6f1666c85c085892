import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type Cipher,
  createLocalCipher,
  DecryptError,
  type EncryptedBlob,
  type EncryptionContext,
} from '../../../functions/core/vault/cipher.ts';
import { createKmsCipher } from '../../../functions/core/vault/kms-cipher.ts';
import { KmsStandIn } from './kms-stand-in.ts';

const ctx: EncryptionContext = {
  route: 'https://a.example.com',
  user: 'user-a',
  issuer: 'https://as.example',
};
const others: [string, EncryptionContext][] = [
  ['another route', { ...ctx, route: 'https://b.example.com' }],
  ['another user', { ...ctx, user: 'user-b' }],
  ['another issuer', { ...ctx, issuer: 'https://as2.example' }],
  // Field boundaries cannot be shifted: the AAD is a JSON array, not a joined string.
  ['shifted fields', { route: 'https://a.example.com","user-a', user: '', issuer: 'https://as.example' }],
];
const secret = new TextEncoder().encode('{"accessToken":"at-secret-value"}');

const ciphers: [string, () => Cipher][] = [
  ['local AES-256-GCM cipher', () => createLocalCipher(randomBytes(32))],
  [
    'KMS envelope cipher (against the in-process KMS stand-in)',
    () => {
      const kms = new KmsStandIn();
      return createKmsCipher({ kms, keyId: kms.keyArn });
    },
  ],
];

describe.each(ciphers)('%s', (_name, make) => {
  it('round-trips under the same context', async () => {
    const cipher = make();
    const blob = await cipher.encrypt(secret, ctx);
    expect(new TextDecoder().decode(await cipher.decrypt(blob, ctx))).toBe(
      '{"accessToken":"at-secret-value"}',
    );
    expect(JSON.stringify(blob)).not.toContain('at-secret-value');
    expect(blob).toMatchObject({ v: 1, alg: 'A256GCM' });
  });

  it.each(others)('refuses to decrypt under %s', async (_label, other) => {
    const cipher = make();
    const blob = await cipher.encrypt(secret, ctx);
    await expect(cipher.decrypt(blob, other)).rejects.toBeInstanceOf(DecryptError);
  });

  it('uses a fresh IV for every encryption', async () => {
    const cipher = make();
    const a = await cipher.encrypt(secret, ctx);
    const b = await cipher.encrypt(secret, ctx);
    expect(a.iv).not.toBe(b.iv);
    expect(a.ct).not.toBe(b.ct);
  });

  it('refuses a tampered ciphertext, IV or a malformed blob', async () => {
    const cipher = make();
    const blob = await cipher.encrypt(secret, ctx);
    const flip = (s: string) => {
      const bytes = Buffer.from(s, 'base64url');
      bytes[0] = (bytes[0] ?? 0) ^ 1;
      return bytes.toString('base64url');
    };
    await expect(cipher.decrypt({ ...blob, ct: flip(blob.ct) }, ctx)).rejects.toBeInstanceOf(DecryptError);
    await expect(cipher.decrypt({ ...blob, iv: flip(blob.iv) }, ctx)).rejects.toBeInstanceOf(DecryptError);
    await expect(cipher.decrypt({ ...blob, v: 2 } as unknown as EncryptedBlob, ctx)).rejects.toBeInstanceOf(
      DecryptError,
    );
    await expect(cipher.decrypt(undefined as unknown as EncryptedBlob, ctx)).rejects.toBeInstanceOf(
      DecryptError,
    );
  });
});

describe('createLocalCipher', () => {
  it('records its key id and refuses blobs from another key', async () => {
    const a = createLocalCipher(randomBytes(32));
    const b = createLocalCipher(randomBytes(32));
    const blob = await a.encrypt(secret, ctx);
    expect(blob.kid).toMatch(/^local:[A-Za-z0-9_-]{11}$/);
    await expect(b.decrypt(blob, ctx)).rejects.toBeInstanceOf(DecryptError);
  });

  it('still decrypts with a previous key after rotation, and encrypts with the new one', async () => {
    const oldKey = randomBytes(32);
    const blob = await createLocalCipher(oldKey).encrypt(secret, ctx);
    const rotated = createLocalCipher(randomBytes(32), { previousKeys: [oldKey] });
    expect(new TextDecoder().decode(await rotated.decrypt(blob, ctx))).toBe(
      '{"accessToken":"at-secret-value"}',
    );
    expect((await rotated.encrypt(secret, ctx)).kid).not.toBe(blob.kid);
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => createLocalCipher(randomBytes(16))).toThrow(TypeError);
  });
});

describe('createKmsCipher', () => {
  it('asks KMS for one data key per write and stores it encrypted', async () => {
    const kms = new KmsStandIn();
    const cipher = createKmsCipher({ kms, keyId: kms.keyArn });
    const a = await cipher.encrypt(secret, ctx);
    const b = await cipher.encrypt(secret, ctx);
    expect(kms.calls.generateDataKey).toBe(2);
    expect(a.kid).toBe(kms.keyArn);
    expect(a.edk).toBeTruthy();
    expect(a.edk).not.toBe(b.edk);
    await cipher.decrypt(a, ctx);
    expect(kms.calls.decrypt).toBe(1);
  });

  it('refuses a blob without an encrypted data key', async () => {
    const kms = new KmsStandIn();
    const cipher = createKmsCipher({ kms, keyId: kms.keyArn });
    const local = await createLocalCipher(randomBytes(32)).encrypt(secret, ctx);
    await expect(cipher.decrypt(local, ctx)).rejects.toBeInstanceOf(DecryptError);
  });

  it('passes KMS outages through instead of calling them decrypt failures', async () => {
    const kms = new KmsStandIn();
    const cipher = createKmsCipher({ kms, keyId: kms.keyArn });
    const blob = await cipher.encrypt(secret, ctx);
    const outage = Object.assign(new Error('throttled'), { name: 'ThrottlingException' });
    const down = createKmsCipher({
      kms: { generateDataKey: () => Promise.reject(outage), decrypt: () => Promise.reject(outage) },
      keyId: kms.keyArn,
    });
    await expect(down.decrypt(blob, ctx)).rejects.toBe(outage);
  });
});
