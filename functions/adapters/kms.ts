import {
  DecryptCommand,
  GenerateDataKeyCommand,
  GetPublicKeyCommand,
  type KMSClient,
  SignCommand,
} from '@aws-sdk/client-kms';
import type { KmsSigningApi } from '../core/authorization/signer.ts';
import type { KmsApi } from '../core/vault/kms-cipher.ts';

/** The KMS operations the vault cipher and the token signer use, over the AWS SDK's client. */
export function kmsFromClient(kms: KMSClient): KmsApi & KmsSigningApi {
  return {
    generateDataKey: (input) => kms.send(new GenerateDataKeyCommand(input)),
    decrypt: (input) => kms.send(new DecryptCommand(input)),
    sign: (input) => kms.send(new SignCommand(input)),
    getPublicKey: (input) => kms.send(new GetPublicKeyCommand(input)),
  };
}
