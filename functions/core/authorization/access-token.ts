import type { KeyObject } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { errors, jwtVerify } from 'jose';
import type { Route } from '../routes.ts';
import { keyIdOf, type TokenSigner } from './signer.ts';

/**
 * The gateway's access tokens (RFC 9068 JWT profile): ES256, `typ: at+jwt`, issued by the route
 * (its origin) for the route's MCP endpoint (its resource) and nothing else.
 */
export interface AccessTokenClaims {
  readonly iss: string;
  /** The route's resource (its MCP endpoint URL). */
  readonly aud: string;
  /** The person: `userIdFor(issuer, sub)` of their sign-in. */
  readonly sub: string;
  readonly client_id: string;
  readonly scope: string;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
  /** The grant (code exchange and its refresh chain) this token belongs to; revoked together. */
  readonly sid: string;
}

const encoder = new TextEncoder();
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Mints an access token for a route; the signer never sees more than the signing input. */
export async function mintAccessToken(
  signer: TokenSigner,
  input: {
    route: Route;
    subject: string;
    clientId: string;
    scope: string;
    grantId: string;
    ttlSeconds: number;
    now: number;
  },
): Promise<{ token: string; claims: AccessTokenClaims }> {
  const iat = Math.floor(input.now / 1000);
  const claims: AccessTokenClaims = {
    iss: input.route.issuer,
    aud: input.route.resource,
    sub: input.subject,
    client_id: input.clientId,
    scope: input.scope,
    jti: randomUUID(),
    iat,
    exp: iat + input.ttlSeconds,
    sid: input.grantId,
  };
  const header = { alg: 'ES256', typ: 'at+jwt', kid: await keyIdOf(await signer.publicKey()) };
  const signingInput = `${b64(header)}.${b64(claims)}`;
  const signature = await signer.sign(encoder.encode(signingInput));
  return { token: `${signingInput}.${Buffer.from(signature).toString('base64url')}`, claims };
}

export type VerifyResult =
  | { readonly ok: true; readonly claims: AccessTokenClaims }
  | { readonly ok: false; readonly code: 'invalid_token'; readonly reason: string };

/** Seconds of clock difference tolerated on `exp` and `iat`. */
const LEEWAY_SECONDS = 5;
const MAX_TOKEN_LENGTH = 4096;

/**
 * Verifies a gateway access token for one route, offline: the public key is fetched once (KMS
 * `GetPublicKey` in AWS) and kept. Checks: ES256 only (`none`, HS256 and the rest are refused
 * before any key use), `typ` at+jwt, `iss` the route's issuer, `aud` the route's resource, `exp`
 * in the future and `iat` not in it, and the claims the proxy relies on present.
 */
export function createAccessTokenVerifier(options: {
  publicKey: () => Promise<KeyObject>;
  now?: () => number;
}) {
  return async (token: string, route: Route): Promise<VerifyResult> => {
    if (token.length > MAX_TOKEN_LENGTH) return refuse('the token is too long');
    const now = options.now?.() ?? Date.now();
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, await options.publicKey(), {
        algorithms: ['ES256'],
        typ: 'at+jwt',
        issuer: route.issuer,
        audience: route.resource,
        currentDate: new Date(now),
        clockTolerance: LEEWAY_SECONDS,
        requiredClaims: ['exp', 'iat', 'sub', 'jti', 'client_id', 'scope', 'sid'],
      }));
    } catch (error) {
      if (error instanceof errors.JOSEError) return refuse(error.code);
      throw error;
    }
    if (typeof payload.iat !== 'number' || payload.iat > now / 1000 + LEEWAY_SECONDS) {
      return refuse('the token is issued in the future');
    }
    for (const claim of ['sub', 'jti', 'client_id', 'scope', 'sid'] as const) {
      if (typeof payload[claim] !== 'string') return refuse(`the ${claim} claim is not a string`);
    }
    // A single audience, exactly this route's resource (jose also accepts it inside an array).
    if (payload.aud !== route.resource) return refuse('the token is for another resource');
    return { ok: true, claims: payload as unknown as AccessTokenClaims };
  };
}

function refuse(reason: string): VerifyResult {
  return { ok: false, code: 'invalid_token', reason };
}

export type AccessTokenVerifier = ReturnType<typeof createAccessTokenVerifier>;
