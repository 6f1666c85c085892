import type { KmsSigningApi } from '../core/authorization/signer.ts';
import type { KmsApi } from '../core/vault/kms-cipher.ts';
import { type AwsJsonConnection, createAwsJsonClient } from './aws-json.ts';

/**
 * KMS and Secrets Manager over signed fetch (aws-json.ts), for the proxy Lambda: the SDK's
 * clients are most of the proxy's bundle and init time. The other functions use the SDK
 * (kms.ts). On the JSON wire KMS blobs are base64; here they are Uint8Array, as in the SDK.
 * (`Recipient`, for Nitro Enclaves, is not supported: the gateway does not use it.)
 */

function base64(bytes: Uint8Array | undefined): string | undefined {
  return bytes && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/**
 * Decoded into memory of its own (Buffer.alloc is never pooled), so a caller's `fill(0)` on a
 * data key wipes the one copy we made.
 */
function bytes(value: unknown, field: string): Uint8Array | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new Error(`KMS answered a non-base64 ${field}`);
  const buffer = Buffer.alloc(Buffer.byteLength(value, 'base64'));
  const length = buffer.write(value, 'base64');
  return new Uint8Array(buffer.buffer, buffer.byteOffset, length);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function createFetchKms(options: AwsJsonConnection = {}): KmsApi & KmsSigningApi {
  const kms = createAwsJsonClient({
    ...options,
    service: 'kms',
    targetPrefix: 'TrentService',
    contentType: 'application/x-amz-json-1.1',
  });
  return {
    async generateDataKey(input) {
      const out = await kms.call('GenerateDataKey', input);
      return {
        Plaintext: bytes(out.Plaintext, 'Plaintext'),
        CiphertextBlob: bytes(out.CiphertextBlob, 'CiphertextBlob'),
        KeyId: text(out.KeyId),
      };
    },
    async decrypt(input) {
      const out = await kms.call('Decrypt', { ...input, CiphertextBlob: base64(input.CiphertextBlob) });
      return { Plaintext: bytes(out.Plaintext, 'Plaintext') };
    },
    async sign(input) {
      const out = await kms.call('Sign', { ...input, Message: base64(input.Message) });
      return { Signature: bytes(out.Signature, 'Signature') };
    },
    async getPublicKey(input) {
      const out = await kms.call('GetPublicKey', input);
      return { PublicKey: bytes(out.PublicKey, 'PublicKey') };
    },
  };
}

export interface SecretsApi {
  /** The secret's SecretString; rejects when it has none (a binary or empty secret). */
  getSecretValue(secretId: string): Promise<string>;
}

export function createFetchSecrets(options: AwsJsonConnection = {}): SecretsApi {
  const secretsManager = createAwsJsonClient({
    ...options,
    service: 'secretsmanager',
    targetPrefix: 'secretsmanager',
    contentType: 'application/x-amz-json-1.1',
  });
  return {
    async getSecretValue(secretId) {
      const out = await secretsManager.call('GetSecretValue', { SecretId: secretId });
      if (typeof out.SecretString !== 'string' || !out.SecretString) {
        throw new Error(`the secret ${secretId} has no SecretString`);
      }
      return out.SecretString;
    },
  };
}
