import type {
  DecryptCommandInput,
  DecryptCommandOutput,
  GenerateDataKeyCommandInput,
  GenerateDataKeyCommandOutput,
} from '@aws-sdk/client-kms';
import { open, seal } from '../crypto/aes-gcm.ts';
import { type Cipher, checkBlob, contextAad, DecryptError, type EncryptionContext } from './cipher.ts';

/**
 * The two KMS operations the cipher uses (functions/adapters/kms.ts: over a `KMSClient`, or over
 * signed fetch for the proxy).
 */
export interface KmsApi {
  generateDataKey(
    input: GenerateDataKeyCommandInput,
  ): Promise<Pick<GenerateDataKeyCommandOutput, 'Plaintext' | 'CiphertextBlob' | 'KeyId'>>;
  decrypt(input: DecryptCommandInput): Promise<Pick<DecryptCommandOutput, 'Plaintext'>>;
}

export interface KmsCipherOptions {
  /** KMS, created once at module scope by the handler. */
  readonly kms: KmsApi;
  /** The symmetric KMS key (id, ARN or alias ARN). */
  readonly keyId: string;
}

/** KMS refusals that mean "not this key or not this context"; anything else is an outage and is rethrown. */
const REFUSALS = new Set(['InvalidCiphertextException', 'IncorrectKeyException', 'AccessDeniedException']);

function kmsContext(context: EncryptionContext): Record<string, string> {
  return { route: context.route, user: context.user, issuer: context.issuer };
}

/**
 * Envelope encryption with AWS KMS: each write asks KMS for a fresh AES-256 data key with the
 * encryption context `{ route, user, issuer }`, seals the secrets locally with AES-256-GCM (the
 * same AAD as the local cipher) and stores the KMS-encrypted data key beside them. Decryption
 * hands the same context to KMS Decrypt, which refuses any other (the context is bound into
 * the encrypted data key), and the key policy can require the context keys (docs/storage.md).
 */
export function createKmsCipher(options: KmsCipherOptions): Cipher {
  const { kms, keyId } = options;
  return {
    async encrypt(plaintext, context) {
      const out = await kms.generateDataKey({
        KeyId: keyId,
        KeySpec: 'AES_256',
        EncryptionContext: kmsContext(context),
      });
      if (!out.Plaintext || !out.CiphertextBlob) throw new Error('KMS GenerateDataKey returned no data key');
      const dataKey = out.Plaintext;
      try {
        const sealed = seal(dataKey, plaintext, contextAad(context));
        return {
          v: 1,
          alg: 'A256GCM',
          kid: out.KeyId ?? keyId,
          iv: Buffer.from(sealed.iv).toString('base64url'),
          ct: Buffer.from(sealed.ciphertext).toString('base64url'),
          edk: Buffer.from(out.CiphertextBlob).toString('base64url'),
        };
      } finally {
        dataKey.fill(0);
      }
    },

    async decrypt(blob, context) {
      const b = checkBlob(blob);
      if (!b.edk) throw new DecryptError('blob has no KMS-encrypted data key');
      let dataKey: Uint8Array | undefined;
      try {
        const out = await kms.decrypt({
          CiphertextBlob: Buffer.from(b.edk, 'base64url'),
          EncryptionContext: kmsContext(context),
          KeyId: keyId,
        });
        dataKey = out.Plaintext;
      } catch (cause) {
        if (cause instanceof Error && REFUSALS.has(cause.name)) {
          throw new DecryptError('KMS refused the data key for this context', { cause });
        }
        throw cause;
      }
      if (!dataKey) throw new DecryptError('KMS Decrypt returned no data key');
      try {
        return open(
          dataKey,
          { iv: Buffer.from(b.iv, 'base64url'), ciphertext: Buffer.from(b.ct, 'base64url') },
          contextAad(context),
        );
      } catch (cause) {
        throw new DecryptError('vault item does not decrypt under this context', { cause });
      } finally {
        dataKey.fill(0);
      }
    },
  };
}
