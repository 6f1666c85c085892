import { randomBytes } from 'node:crypto';
import type { DecryptCommandInput, GenerateDataKeyCommandInput } from '@aws-sdk/client-kms';
import { open, seal } from '../../../functions/core/crypto/aes-gcm.ts';
import type { KmsApi } from '../../../functions/core/vault/kms-cipher.ts';

/**
 * A STAND-IN for AWS KMS, in process, for unit tests only (KMS cannot be reached here). It
 * implements the two operations the vault uses with the property that matters: a data key
 * generated under one encryption context is released only for exactly that context. It wraps
 * data keys with AES-256-GCM under a master key, the context (sorted key/value pairs) as AAD.
 * It is not KMS: no key policy, no grants, no CloudTrail.
 */
export class KmsStandIn implements KmsApi {
  readonly keyArn = 'arn:aws:kms:eu-west-1:111122223333:key/stand-in';
  readonly calls = { generateDataKey: 0, decrypt: 0 };
  private readonly master = randomBytes(32);

  async generateDataKey(input: GenerateDataKeyCommandInput) {
    this.calls.generateDataKey++;
    const { KeyId, KeySpec, EncryptionContext } = input;
    if (!KeyId || KeySpec !== 'AES_256') throw refusal('ValidationException');
    const dataKey = randomBytes(32);
    const wrapped = seal(this.master, dataKey, aad(EncryptionContext));
    return {
      KeyId: this.keyArn,
      Plaintext: Uint8Array.from(dataKey),
      CiphertextBlob: Buffer.concat([wrapped.iv, wrapped.ciphertext]),
    };
  }

  async decrypt(input: DecryptCommandInput) {
    this.calls.decrypt++;
    const { CiphertextBlob, EncryptionContext } = input;
    if (!CiphertextBlob) throw refusal('ValidationException');
    const blob = Buffer.from(CiphertextBlob);
    try {
      const dataKey = open(
        this.master,
        { iv: blob.subarray(0, 12), ciphertext: blob.subarray(12) },
        aad(EncryptionContext),
      );
      return { KeyId: this.keyArn, Plaintext: dataKey };
    } catch {
      throw refusal('InvalidCiphertextException');
    }
  }
}

function aad(context: Record<string, string> | undefined): Uint8Array {
  const pairs = Object.entries(context ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return new TextEncoder().encode(JSON.stringify(pairs));
}

function refusal(name: string): Error {
  const error = new Error(`stand-in KMS: ${name}`);
  error.name = name;
  return error;
}
