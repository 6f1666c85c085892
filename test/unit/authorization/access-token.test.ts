import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, sign, verify } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, exportJWK, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AccessTokenClaims,
  createAccessTokenVerifier,
  mintAccessToken,
} from '../../../functions/core/authorization/access-token.ts';
import {
  createKmsSigner,
  createLocalSigner,
  derToJose,
  type TokenSigner,
} from '../../../functions/core/authorization/signer.ts';
import { routeSchema } from '../../../functions/core/config/schema.ts';
import { describeRoute } from '../../../functions/core/routes.ts';
import { KmsSigningStandIn } from './kms-signing-stand-in.ts';

const routeA = describeRoute(
  routeSchema.parse({ from: 'https://a.example.com', to: 'https://up.example.net/mcp' }),
);
const routeB = describeRoute(
  routeSchema.parse({ from: 'https://b.example.com', to: 'https://up.example.net/mcp' }),
);
const NOW = 1_800_000_000_000;
const SECONDS = Math.floor(NOW / 1000);

function p256Pem(): { pem: string; key: KeyObject } {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), key: privateKey };
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token with any header and claims, signed ES256 (JOSE r‖s) by `signer`. */
async function forge(signer: TokenSigner, header: Record<string, unknown>, claims: Record<string, unknown>) {
  const input = `${b64(header)}.${b64(claims)}`;
  const signature = await signer.sign(new TextEncoder().encode(input));
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

function claimsFor(route = routeA, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iss: route.issuer,
    aud: route.resource,
    sub: 'user-1',
    client_id: 'https://app.example.com/client.json',
    scope: 'mcp',
    jti: 'jti-1',
    iat: SECONDS,
    exp: SECONDS + 600,
    sid: 'grant-1',
    ...extra,
  };
}

const HEADER = { alg: 'ES256', typ: 'at+jwt' };

let signer: TokenSigner;
let pem: string;
let verifyAt: (now: number) => ReturnType<typeof createAccessTokenVerifier>;

beforeAll(() => {
  ({ pem } = p256Pem());
  signer = createLocalSigner(pem);
  verifyAt = (now) => createAccessTokenVerifier({ publicKey: () => signer.publicKey(), now: () => now });
});

const mint = (overrides: Partial<Parameters<typeof mintAccessToken>[1]> = {}) =>
  mintAccessToken(signer, {
    route: routeA,
    subject: 'user-1',
    clientId: 'https://app.example.com/client.json',
    scope: 'mcp',
    grantId: 'grant-1',
    ttlSeconds: 600,
    now: NOW,
    ...overrides,
  });

describe('mintAccessToken and the access token verifier', () => {
  it('mints an ES256 at+jwt for the route that verifies on that route', async () => {
    const { token, claims } = await mint();
    const header = decodeProtectedHeader(token);
    expect(header).toEqual({
      alg: 'ES256',
      typ: 'at+jwt',
      kid: await calculateJwkThumbprint(await exportJWK(await signer.publicKey()), 'sha256'),
    });
    expect(claims).toMatchObject({
      iss: 'https://a.example.com',
      aud: 'https://a.example.com/mcp',
      sub: 'user-1',
      client_id: 'https://app.example.com/client.json',
      scope: 'mcp',
      iat: SECONDS,
      exp: SECONDS + 600,
      sid: 'grant-1',
    });
    expect(claims.jti).toMatch(/^[0-9a-f-]{36}$/);
    const result = await verifyAt(NOW + 1000)(token, routeA);
    expect(result).toEqual({ ok: true, claims });
  });

  it('gives every token its own jti', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) ids.add((await mint()).claims.jti);
    expect(ids.size).toBe(20);
  });

  it('refuses a valid token of route A on route B (wrong aud and iss)', async () => {
    const { token } = await mint();
    expect(await verifyAt(NOW)(token, routeB)).toMatchObject({ ok: false, code: 'invalid_token' });
  });

  it('tolerates 5 s of clock difference on exp and iat', async () => {
    const { token } = await mint({ now: NOW + 4000 });
    expect((await verifyAt(NOW)(token, routeA)).ok).toBe(true);
    expect((await verifyAt(NOW + 600_000 + 4000)(token, routeA)).ok).toBe(true);
  });

  describe('refuses as invalid_token', () => {
    const refused = async (token: string, at = NOW) => {
      const result = await verifyAt(at)(token, routeA);
      expect(result).toMatchObject({ ok: false, code: 'invalid_token' });
      return result;
    };

    it('an alg: none token', async () => {
      await refused(`${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claimsFor())}.`);
      await refused(`${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claimsFor())}`);
      await refused(`${b64({ alg: 'NONE', typ: 'at+jwt' })}.${b64(claimsFor())}.`);
    });

    it('an HS256 token whose HMAC key is the public key (algorithm confusion)', async () => {
      const pub = await signer.publicKey();
      const secrets = [
        Buffer.from(pub.export({ format: 'pem', type: 'spki' }).toString()),
        pub.export({ format: 'der', type: 'spki' }),
      ];
      for (const secret of secrets) {
        const token = await new SignJWT(claimsFor())
          .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
          .sign(Uint8Array.from(secret));
        await refused(token);
      }
    });

    it('a token signed by another P-256 key', async () => {
      const other = createLocalSigner(p256Pem().pem);
      await refused(await forge(other, HEADER, claimsFor()));
      const { token } = await mintAccessToken(other, {
        route: routeA,
        subject: 'user-1',
        clientId: 'c',
        scope: 'mcp',
        grantId: 'g',
        ttlSeconds: 600,
        now: NOW,
      });
      await refused(token);
    });

    it('a token re-signed by another key under the right kid (the kid header is not trusted)', async () => {
      const { token } = await mint();
      const other = createLocalSigner(p256Pem().pem);
      const [h, p] = token.split('.');
      const signature = await other.sign(new TextEncoder().encode(`${h}.${p}`));
      await refused(`${h}.${p}.${Buffer.from(signature).toString('base64url')}`);
    });

    it.each(['JWT', 'jwt', 'at+JWT+x', ''])('a token with typ %j', async (typ) => {
      await refused(await forge(signer, { alg: 'ES256', typ }, claimsFor()));
    });

    it('a token without typ', async () => {
      await refused(await forge(signer, { alg: 'ES256' }, claimsFor()));
    });

    it('an expired token (beyond the 5 s leeway)', async () => {
      const { token } = await mint({ now: NOW - 700_000 });
      await refused(token);
      const { token: justExpired } = await mint();
      await refused(justExpired, NOW + 606_000);
    });

    it('a token issued in the future (beyond the 5 s leeway)', async () => {
      const { token } = await mint({ now: NOW + 10_000 });
      expect(await refused(token)).toMatchObject({ reason: 'the token is issued in the future' });
      await refused(await forge(signer, HEADER, claimsFor(routeA, { iat: SECONDS + 6 })));
    });

    it('a token with a wrong or missing iss', async () => {
      await refused(await forge(signer, HEADER, claimsFor(routeA, { iss: routeB.issuer })));
      await refused(await forge(signer, HEADER, claimsFor(routeA, { iss: 'https://a.example.com/' })));
      await refused(await forge(signer, HEADER, claimsFor(routeA, { iss: undefined })));
    });

    it("a token for route B's resource", async () => {
      await refused(await forge(signer, HEADER, claimsFor(routeA, { aud: routeB.resource })));
      await refused(await forge(signer, HEADER, claimsFor(routeA, { aud: 'https://a.example.com' })));
      await refused(await forge(signer, HEADER, claimsFor(routeA, { aud: undefined })));
    });

    it('a token whose aud is an array holding the right resource and another', async () => {
      const result = await refused(
        await forge(signer, HEADER, claimsFor(routeA, { aud: [routeA.resource, routeB.resource] })),
      );
      expect(result).toMatchObject({ reason: 'the token is for another resource' });
      await refused(await forge(signer, HEADER, claimsFor(routeA, { aud: [routeA.resource] })));
    });

    it.each(['sid', 'client_id', 'sub', 'jti', 'scope', 'exp', 'iat'])(
      'a token without %s',
      async (claim) => {
        await refused(await forge(signer, HEADER, claimsFor(routeA, { [claim]: undefined })));
      },
    );

    it.each(['sid', 'client_id', 'sub', 'jti', 'scope'])(
      'a token whose %s is not a string',
      async (claim) => {
        await refused(await forge(signer, HEADER, claimsFor(routeA, { [claim]: 42 })));
      },
    );

    it('a token longer than 4096 characters, even correctly signed', async () => {
      const token = await forge(signer, HEADER, claimsFor(routeA, { scope: 'x'.repeat(4000) }));
      expect(token.length).toBeGreaterThan(4096);
      expect(await refused(token)).toMatchObject({ reason: 'the token is too long' });
    });

    it('garbage', async () => {
      const { token } = await mint();
      const [h, p, s] = token.split('.') as [string, string, string];
      const garbage = [
        '',
        '.',
        '..',
        '...',
        'a',
        'a.b',
        'a.b.c',
        'not a token',
        `${h}.${p}`,
        `${h}.${p}.`,
        `${h}.${p}.${s}.extra`,
        `${h}.${p}.${s.slice(0, 20)}`,
        `${h}.${p}.${Buffer.alloc(64).toString('base64url')}`,
        `${h}.${p}.${Buffer.alloc(72, 0xff).toString('base64url')}`,
        `${h}.${p}.${s}x`,
        `${h}.${p}.!!!`,
        `${h}x.${p}.${s}`,
        `${h}.${p}x.${s}`,
        `${b64('just a string')}.${p}.${s}`,
        `${b64([1, 2])}.${p}.${s}`,
        `${b64(null)}.${p}.${s}`,
        `${Buffer.from('{not json').toString('base64url')}.${p}.${s}`,
        `${b64({ alg: 'ES256', typ: 'at+jwt', crit: ['exp'], exp: 1 })}.${p}.${s}`,
        `${b64({ alg: 'ES256', typ: 'at+jwt', b64: false, crit: ['b64'] })}.${p}.${s}`,
        `${b64({ alg: 'RS256', typ: 'at+jwt' })}.${p}.${s}`,
        `${b64({ alg: 'ES384', typ: 'at+jwt' })}.${p}.${s}`,
        `${b64({ alg: 'ES256', typ: 'at+jwt', jwk: { kty: 'EC' } })}.${p}.${s}`,
        'eyJhbGciOiJFUzI1NiJ9.eyJ9.e30',
        '\u0000.\u0000.\u0000',
        ' '.repeat(100),
        `Bearer ${token}`,
      ];
      for (const value of garbage) {
        const result = await verifyAt(NOW)(value, routeA);
        expect(result, JSON.stringify(value).slice(0, 80)).toMatchObject({
          ok: false,
          code: 'invalid_token',
        });
      }
    });

    it('random bytes shaped like a token', async () => {
      for (let i = 0; i < 200; i++) {
        const parts = [0, 1, 2].map(() => randomBytes(1 + (i % 90)).toString('base64url'));
        const result = await verifyAt(NOW)(parts.join('.'), routeA);
        expect(result).toMatchObject({ ok: false, code: 'invalid_token' });
      }
    });

    it('a token whose claims were changed after signing', async () => {
      const { token } = await mint();
      const [h, , s] = token.split('.');
      await refused(`${h}.${b64(claimsFor(routeA, { sub: 'someone-else' }))}.${s}`);
    });
  });
});

describe('derToJose', () => {
  it("turns node's DER ECDSA signatures into r‖s that verify as IEEE P1363, over many messages", () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    let shortR = 0;
    let shortS = 0;
    let paddedR = 0;
    for (let i = 0; i < 3000; i++) {
      const message = randomBytes(1 + (i % 64));
      const der = sign('sha256', message, { key: privateKey, dsaEncoding: 'der' });
      const jose = derToJose(der, 32);
      expect(jose.length).toBe(64);
      const ok = verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, jose);
      if (!ok)
        throw new Error(
          `DER signature ${der.toString('hex')} converted to ${Buffer.from(jose).toString('hex')}`,
        );
      // The same key's own p1363 signature has the same shape (64 bytes) and verifies too.
      const native = sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      expect(native.length).toBe(64);
      const rLength = der[3]!;
      const sLength = der[4 + rLength + 1]!;
      if (rLength < 32) shortR++;
      if (sLength < 32) shortS++;
      if (rLength === 33) paddedR++;
    }
    // The cases that break naive conversions were all exercised (r or s with leading zero bytes).
    expect(shortR + shortS).toBeGreaterThan(0);
    expect(paddedR).toBeGreaterThan(0);
  });

  it('keeps the leading zeros of a short r and s', () => {
    const r = Buffer.concat([Buffer.from([0x01]), Buffer.alloc(30, 0x22)]); // 31 bytes
    const s = Buffer.concat([Buffer.from([0x00, 0x80]), Buffer.alloc(31, 0x33)]); // 33 bytes, padded
    const der = Buffer.concat([
      Buffer.from([0x30, 2 + 31 + 2 + 33, 0x02, 31]),
      r,
      Buffer.from([0x02, 33]),
      s,
    ]);
    const out = Buffer.from(derToJose(der, 32));
    expect(out.subarray(0, 32).toString('hex')).toBe(`00${r.toString('hex')}`);
    expect(out.subarray(32).toString('hex')).toBe(s.subarray(1).toString('hex'));
  });

  it('throws on what is not an ECDSA signature', () => {
    expect(() => derToJose(Buffer.from([0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01]), 32)).toThrow(
      /malformed/,
    );
    expect(() => derToJose(Buffer.from([0x30, 0x06, 0x04, 0x01, 0x01, 0x02, 0x01, 0x01]), 32)).toThrow(
      /malformed/,
    );
    const long = Buffer.concat([Buffer.from([0x30, 0x26, 0x02, 0x22, 0x01]), Buffer.alloc(33, 1)]);
    expect(() => derToJose(long, 32)).toThrow(/malformed/);
  });
});

describe('createKmsSigner (against a KMS stand-in)', () => {
  const setup = () => {
    const { key } = p256Pem();
    const kms = new KmsSigningStandIn(key);
    const kmsSigner = createKmsSigner({ kms, keyId: kms.keyArn });
    const verifier = createAccessTokenVerifier({ publicKey: () => kmsSigner.publicKey(), now: () => NOW });
    return { key, kms, kmsSigner, verifier };
  };

  const mintWith = (s: TokenSigner) =>
    mintAccessToken(s, {
      route: routeA,
      subject: 'user-1',
      clientId: 'c',
      scope: 'mcp',
      grantId: 'g',
      ttlSeconds: 600,
      now: NOW,
    });

  it('mints tokens that verify, sending KMS only the digest', async () => {
    const { kms, kmsSigner, verifier, key } = setup();
    for (let i = 0; i < 10; i++) {
      const { token, claims } = await mintWith(kmsSigner);
      expect(await verifier(token, routeA)).toEqual({ ok: true, claims: claims as AccessTokenClaims });
      // Also verifiable with the public key held outside the signer.
      const verifyLocally = createAccessTokenVerifier({
        publicKey: async () => createPublicKey(key),
        now: () => NOW,
      });
      expect((await verifyLocally(token, routeA)).ok).toBe(true);
    }
    expect(kms.calls.sign).toBe(10);
  });

  it('asks KMS for the public key once across many mints and verifications', async () => {
    const { kms, kmsSigner, verifier } = setup();
    const { token } = await mintWith(kmsSigner);
    await Promise.all(Array.from({ length: 50 }, () => verifier(token, routeA)));
    for (let i = 0; i < 20; i++) expect((await verifier(token, routeA)).ok).toBe(true);
    await mintWith(kmsSigner);
    expect(kms.calls.getPublicKey).toBe(1);
  });

  it('asks again after a failed GetPublicKey instead of keeping the failure', async () => {
    const { kms, kmsSigner } = setup();
    const { token } = await mintAccessToken(createLocalSigner(p256Pem().pem), {
      route: routeA,
      subject: 'u',
      clientId: 'c',
      scope: 'mcp',
      grantId: 'g',
      ttlSeconds: 600,
      now: NOW,
    });
    kms.failGetPublicKey = 1;
    await expect(kmsSigner.publicKey()).rejects.toThrow(/KMSInternalException/);
    await expect(kmsSigner.publicKey()).resolves.toBeDefined();
    expect(kms.calls.getPublicKey).toBe(2);

    // Through the verifier: the failure is an infrastructure error, not a refused token.
    const fresh = setup();
    fresh.kms.failGetPublicKey = 1;
    await expect(fresh.verifier(token, routeA)).rejects.toThrow(/KMSInternalException/);
    const { token: good } = await mintWith(fresh.kmsSigner);
    expect((await fresh.verifier(good, routeA)).ok).toBe(true);
    expect(fresh.kms.calls.getPublicKey).toBe(2);
  });

  it('gives KMS and local signers over one key the same kid', async () => {
    const { pem: keyPem, key } = p256Pem();
    const kms = new KmsSigningStandIn(key);
    const viaKms = await mintWith(createKmsSigner({ kms, keyId: kms.keyArn }));
    const viaLocal = await mintWith(createLocalSigner(keyPem));
    expect(decodeProtectedHeader(viaKms.token).kid).toBe(decodeProtectedHeader(viaLocal.token).kid);
  });
});
