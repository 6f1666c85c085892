import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';
import type {
  GetPublicKeyCommandInput,
  GetPublicKeyCommandOutput,
  SignCommandInput,
  SignCommandOutput,
} from '@aws-sdk/client-kms';
import { calculateJwkThumbprint, exportJWK } from 'jose';

/**
 * Who signs the gateway's access tokens (ES256, RFC 7518 §3.4). In AWS the private key is an
 * ECC_NIST_P256 KMS key and never leaves KMS; the local gateway keeps a P-256 key in `.local/`.
 * Both produce the JOSE form of the signature (r‖s, 64 bytes), not DER.
 */
export interface TokenSigner {
  /** Signs the JWS signing input (`base64url(header).base64url(payload)`). */
  sign(signingInput: Uint8Array): Promise<Uint8Array>;
  /** The public key, fetched once and kept. */
  publicKey(): Promise<KeyObject>;
}

/** A signer over a local P-256 private key (PEM): the local gateway and tests. */
export function createLocalSigner(privateKeyPem: string): TokenSigner {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new TypeError('the local signing key must be an EC P-256 key');
  }
  const pub = createPublicKey(key);
  return {
    async sign(signingInput) {
      return sign('sha256', signingInput, { key, dsaEncoding: 'ieee-p1363' });
    },
    async publicKey() {
      return pub;
    },
  };
}

/**
 * The two KMS operations the signer uses (functions/adapters/kms.ts: over a `KMSClient`, or over
 * signed fetch for the proxy, which only asks for the public key).
 */
export interface KmsSigningApi {
  sign(input: SignCommandInput): Promise<Pick<SignCommandOutput, 'Signature'>>;
  getPublicKey(input: GetPublicKeyCommandInput): Promise<Pick<GetPublicKeyCommandOutput, 'PublicKey'>>;
}

/**
 * A signer over an asymmetric KMS key (`ECC_NIST_P256`, `SIGN_VERIFY`): the digest is computed
 * here and sent as `MessageType: DIGEST`, so the token itself never goes to KMS. KMS answers DER
 * (RFC 3279 `Ecdsa-Sig-Value`), which is converted to the JOSE r‖s form.
 */
export function createKmsSigner(options: { kms: KmsSigningApi; keyId: string }): TokenSigner {
  const { kms, keyId } = options;
  let publicKey: Promise<KeyObject> | undefined;
  return {
    async sign(signingInput) {
      const digest = createHash('sha256').update(signingInput).digest();
      const out = await kms.sign({
        KeyId: keyId,
        Message: digest,
        MessageType: 'DIGEST',
        SigningAlgorithm: 'ECDSA_SHA_256',
      });
      if (!out.Signature) throw new Error('KMS returned no signature');
      return derToJose(out.Signature, 32);
    },
    publicKey() {
      publicKey ??= kms.getPublicKey({ KeyId: keyId }).then((out) => {
        if (!out.PublicKey) throw new Error('KMS returned no public key');
        return createPublicKey({ key: Buffer.from(out.PublicKey), format: 'der', type: 'spki' });
      });
      // A failed fetch is not kept: the next call asks again.
      publicKey.catch(() => {
        publicKey = undefined;
      });
      return publicKey;
    },
  };
}

/** DER `SEQUENCE { INTEGER r, INTEGER s }` → fixed-width r‖s (RFC 7518 §3.4). */
export function derToJose(der: Uint8Array, size: number): Uint8Array {
  const bytes = Buffer.from(der);
  let offset = 0;
  const expect = (tag: number) => {
    if (bytes[offset++] !== tag) throw new Error('malformed ECDSA signature');
  };
  const length = () => {
    let len = bytes[offset++]!;
    if (len & 0x80) {
      const count = len & 0x7f;
      len = 0;
      for (let i = 0; i < count; i++) len = (len << 8) | bytes[offset++]!;
    }
    return len;
  };
  expect(0x30);
  length();
  const out = Buffer.alloc(size * 2);
  for (const at of [0, size]) {
    expect(0x02);
    let len = length();
    let start = offset;
    offset += len;
    while (len > size && bytes[start] === 0) {
      start++;
      len--;
    }
    if (len > size) throw new Error('malformed ECDSA signature');
    bytes.copy(out, at + size - len, start, start + len);
  }
  return out;
}

/** The key id tokens carry: the RFC 7638 thumbprint of the public key. */
export async function keyIdOf(publicKey: KeyObject): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
}
