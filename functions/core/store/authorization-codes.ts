import { isRandomToken, randomToken } from '../crypto/random.ts';
import { systemClock, ttlSeconds } from './clock.ts';
import { type AuthenticatedStoreDeps, byMac, codeKey, isConditionFailure, putFreshRecord } from './keys.ts';

/**
 * Authorization codes the gateway issues to MCP clients (DESIGN "Codes"): 256-bit, stored only as
 * their hash, 60 s, bound to client, redirect URI, PKCE challenge, resource, user, route and scope.
 *
 * Redemption is one conditional UpdateItem whose condition holds every binding (client,
 * redirect URI, the S256 of the presented verifier, resource, route, expiry, not yet redeemed):
 * a request that gets any of them wrong changes nothing, so the rightful client can still
 * redeem. The item is marked redeemed with the grant it started rather than deleted, and kept
 * until its TTL, so a replayed code finds the grant to revoke (RFC 6749 §4.1.2).
 *
 * Its bindings are tagged (record-mac.ts): a code record planted in the table by someone who can
 * write it but holds no key is never redeemed, so table access alone mints no token for anyone.
 */

export interface CodeInput {
  readonly route: string;
  readonly userId: string;
  readonly clientId: string;
  readonly redirectUri: string;
  /** Whether the authorization request named the redirect URI (the token request must then repeat it). Default true. */
  readonly redirectUriSent?: boolean;
  /** S256 challenge (RFC 7636); `plain` is never accepted. */
  readonly codeChallenge: string;
  readonly resource: string;
  readonly scope: string;
}

export type RedeemResult =
  | {
      readonly ok: true;
      /** `issuedAt`: when the code was issued, i.e. when the person approved (epoch ms). */
      readonly code: CodeInput & { readonly grantId: string; readonly issuedAt: number };
    }
  | {
      readonly ok: false;
      readonly reason: 'unknown' | 'expired' | 'mismatch';
    }
  | {
      readonly ok: false;
      readonly reason: 'replayed';
      /** What the first redemption started, to revoke. */
      readonly grant: {
        readonly userId: string;
        readonly route: string;
        readonly clientId: string;
        readonly grantId: string;
      };
    };

export interface CodeStore {
  issue(input: CodeInput): Promise<string>;
  /**
   * Redeems a code for a new grant id. `challenge` is the S256 of the client's `code_verifier`.
   */
  redeem(
    code: string,
    presented: { clientId: string; redirectUri?: string; challenge: string; resource: string; route: string },
    grantId: string,
  ): Promise<RedeemResult>;
}

export const CODE_TTL_SECONDS = 60;
/** Kept this long after expiry so a late replay still finds what to revoke. */
const REPLAY_WINDOW_SECONDS = 600;

/** The fields a code's tag covers: every binding and its expiry (not the redemption it records). */
function codeFields(c: Record<string, unknown>): unknown[] {
  return [
    c.route,
    c.userId,
    c.clientId,
    c.redirectUri,
    c.redirectUriSent,
    c.codeChallenge,
    c.resource,
    c.scope,
    c.createdAt,
    c.expiresAt,
  ];
}

function redeemedBy(item: Record<string, unknown>, grantId: string): RedeemResult {
  return {
    ok: true,
    code: {
      route: item.route as string,
      userId: item.userId as string,
      clientId: item.clientId as string,
      redirectUri: item.redirectUri as string,
      redirectUriSent: item.redirectUriSent as boolean,
      codeChallenge: item.codeChallenge as string,
      resource: item.resource as string,
      scope: item.scope as string,
      grantId,
      issuedAt: item.createdAt as number,
    },
  };
}

export function createCodeStore(deps: AuthenticatedStoreDeps): CodeStore {
  const { table, tableName, records } = deps;
  const clock = deps.clock ?? systemClock;
  return {
    async issue(input) {
      const code = randomToken();
      const now = clock.now();
      const expiresAt = now + CODE_TTL_SECONDS * 1000;
      const fields = { ...input, redirectUriSent: input.redirectUriSent ?? true, createdAt: now, expiresAt };
      await putFreshRecord(
        { table, tableName },
        {
          ...codeKey(code),
          ...fields,
          mac: records.tag(codeKey(code), codeFields(fields)),
          ttl: ttlSeconds(expiresAt + REPLAY_WINDOW_SECONDS * 1000),
        },
        byMac,
      );
      return code;
    },

    async redeem(code, presented, grantId) {
      if (!isRandomToken(code)) return { ok: false, reason: 'unknown' };
      const now = clock.now();
      try {
        const { Attributes: item } = await table.update({
          TableName: tableName,
          Key: codeKey(code),
          UpdateExpression: 'SET redeemedAt = :now, grantId = :grant',
          ConditionExpression: `attribute_exists(pk) AND attribute_not_exists(redeemedAt) AND clientId = :client AND ${
            // RFC 6749 §4.1.3: required and identical when the authorization request had it.
            presented.redirectUri === undefined ? 'redirectUriSent = :redirect' : 'redirectUri = :redirect'
          } AND codeChallenge = :challenge AND #resource = :resource AND #route = :route AND expiresAt > :now`,
          ExpressionAttributeNames: { '#resource': 'resource', '#route': 'route' },
          ExpressionAttributeValues: {
            ':now': now,
            ':grant': grantId,
            ':client': presented.clientId,
            ':redirect': presented.redirectUri ?? false,
            ':challenge': presented.challenge,
            ':resource': presented.resource,
            ':route': presented.route,
          },
          ReturnValues: 'ALL_NEW',
        });
        // Matched every binding but was not written by the gateway: consumed, and no code.
        if (!records.verify(codeKey(code), codeFields(item!), item!.mac))
          return { ok: false, reason: 'unknown' };
        return redeemedBy(item!, grantId);
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
      const { Item: item } = await table.get({
        TableName: tableName,
        Key: codeKey(code),
        ConsistentRead: true,
      });
      if (!item || !records.verify(codeKey(code), codeFields(item), item.mac)) {
        return { ok: false, reason: 'unknown' };
      }
      // Our own redemption, whose answer was lost and whose retry (the SDK's) then found it done:
      // the grant id is this request's random one, so no other request can have written it.
      if (item.grantId === grantId) return redeemedBy(item, grantId);
      if (typeof item.redeemedAt === 'number' && typeof item.grantId === 'string') {
        return {
          ok: false,
          reason: 'replayed',
          grant: { userId: item.userId, route: item.route, clientId: item.clientId, grantId: item.grantId },
        };
      }
      if (!(typeof item.expiresAt === 'number' && item.expiresAt > now))
        return { ok: false, reason: 'expired' };
      return { ok: false, reason: 'mismatch' };
    },
  };
}
