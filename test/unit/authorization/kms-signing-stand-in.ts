import { createHash, createPublicKey, type KeyObject, randomBytes } from 'node:crypto';
import type { GetPublicKeyCommandInput, SignCommandInput } from '@aws-sdk/client-kms';
import type { KmsSigningApi } from '../../../functions/core/authorization/signer.ts';

/**
 * A STAND-IN for an AWS KMS asymmetric signing key (`ECC_NIST_P256`, `SIGN_VERIFY`), in process,
 * for unit tests only (KMS cannot be reached here). It implements the two operations the token
 * signer uses the way KMS answers them: `Sign` with `MessageType: DIGEST` signs the 32-byte digest
 * it is given (it does not hash again) and answers a DER `Ecdsa-Sig-Value`; `GetPublicKey` answers
 * the SPKI DER of the public key. Node's crypto cannot sign a pre-computed digest, so the ECDSA
 * step is written out over P-256 with BigInt (FIPS 186-4 §6.4; not constant-time, test use only).
 * It is not KMS: no key policy, no grants, no CloudTrail.
 */
export class KmsSigningStandIn implements KmsSigningApi {
  readonly keyArn = 'arn:aws:kms:eu-west-1:111122223333:key/signing-stand-in';
  readonly calls = { sign: 0, getPublicKey: 0 };
  /** How many of the next GetPublicKey calls fail (a throttled or unreachable KMS). */
  failGetPublicKey = 0;
  private readonly d: bigint;

  constructor(private readonly privateKey: KeyObject) {
    const jwk = privateKey.export({ format: 'jwk' });
    if (jwk.crv !== 'P-256' || !jwk.d) throw new TypeError('the stand-in needs a P-256 private key');
    this.d = toBigInt(Buffer.from(jwk.d, 'base64url'));
  }

  async getPublicKey(input: GetPublicKeyCommandInput) {
    await Promise.resolve();
    this.calls.getPublicKey++;
    if (input.KeyId !== this.keyArn) throw refusal('NotFoundException');
    if (this.failGetPublicKey > 0) {
      this.failGetPublicKey--;
      throw refusal('KMSInternalException');
    }
    const spki = createPublicKey(this.privateKey).export({ format: 'der', type: 'spki' });
    return { KeyId: this.keyArn, PublicKey: Uint8Array.from(spki) };
  }

  async sign(input: SignCommandInput) {
    await Promise.resolve();
    this.calls.sign++;
    const { KeyId, Message, MessageType, SigningAlgorithm } = input;
    if (KeyId !== this.keyArn) throw refusal('NotFoundException');
    if (SigningAlgorithm !== 'ECDSA_SHA_256' || !Message) throw refusal('ValidationException');
    // With MessageType RAW, KMS hashes the message itself; the signer must send DIGEST.
    const digest =
      MessageType === 'DIGEST' ? Buffer.from(Message) : createHash('sha256').update(Message).digest();
    if (digest.length !== 32) throw refusal('ValidationException');
    return { KeyId: this.keyArn, Signature: signDigestDer(this.d, digest) };
  }
}

function refusal(name: string): Error {
  const error = new Error(`stand-in KMS: ${name}`);
  error.name = name;
  return error;
}

// P-256 (SEC 2 secp256r1).
const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const A = P - 3n;
const G: Point = {
  x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
};

type Point = { x: bigint; y: bigint } | null;

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;

function inverse(a: bigint, m: bigint): bigint {
  let [r0, r1] = [mod(a, m), m];
  let [s0, s1] = [1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return mod(s0, m);
}

function add(p1: Point, p2: Point): Point {
  if (!p1) return p2;
  if (!p2) return p1;
  let lambda: bigint;
  if (p1.x === p2.x) {
    if (mod(p1.y + p2.y, P) === 0n) return null;
    lambda = mod((3n * p1.x * p1.x + A) * inverse(2n * p1.y, P), P);
  } else {
    lambda = mod((p2.y - p1.y) * inverse(p2.x - p1.x, P), P);
  }
  const x = mod(lambda * lambda - p1.x - p2.x, P);
  return { x, y: mod(lambda * (p1.x - x) - p1.y, P) };
}

function multiply(k: bigint, point: Point): Point {
  let result: Point = null;
  let addend = point;
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) result = add(result, addend);
    addend = add(addend, addend);
  }
  return result;
}

function toBigInt(bytes: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);
}

/** A minimal DER INTEGER: no superfluous leading zeros, one 0x00 when the high bit is set. */
function derInteger(value: bigint): Buffer {
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes]);
}

/** ECDSA over a SHA-256 digest (no second hash), as DER `SEQUENCE { r, s }`. */
function signDigestDer(d: bigint, digest: Uint8Array): Uint8Array {
  const z = toBigInt(digest);
  for (;;) {
    const k = mod(toBigInt(randomBytes(40)), N - 1n) + 1n;
    const point = multiply(k, G)!;
    const r = mod(point.x, N);
    if (r === 0n) continue;
    const s = mod(inverse(k, N) * (z + r * d), N);
    if (s === 0n) continue;
    const body = Buffer.concat([derInteger(r), derInteger(s)]);
    return Uint8Array.from(Buffer.concat([Buffer.from([0x30, body.length]), body]));
  }
}
