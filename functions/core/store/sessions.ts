import { DeleteCommand, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { isRandomToken, randomToken } from '../crypto/random.ts';
import { systemClock, ttlSeconds } from './clock.ts';
import { type StoreDeps, sessionKey } from './keys.ts';
import { isSameOriginPath, type SingleUseMeta, type StateRefusal, singleUseRecords } from './state.ts';

/**
 * Sign-in sessions (the gateway's own cookie after the IdP login) and the sign-in
 * transactions that precede them. A session id is 256-bit random and is the cookie value;
 * the table holds only its SHA-256.
 */

export interface Session {
  /** `userIdFor(issuer, sub)`: the IdP subject qualified by its issuer. */
  readonly userId: string;
  readonly issuer: string;
  readonly email?: string;
  readonly name?: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export interface SessionInput {
  readonly userId: string;
  readonly issuer: string;
  readonly email?: string;
  readonly name?: string;
  /** Default 8 hours. */
  readonly ttlSeconds?: number;
}

/** A sign-in request in flight: what the login callback needs to finish it. */
export interface LoginInput {
  readonly route: string;
  /** The browser-binding cookie's value; only its SHA-256 is stored. */
  readonly binding: string;
  /** The PKCE verifier (RFC 7636). Secret: never log a record. */
  readonly codeVerifier: string;
  /** The OpenID Connect `nonce` sent in the authentication request. */
  readonly nonce: string;
  /** A same-origin path to return to after sign-in. */
  readonly returnTo: string;
}

export type LoginRecord = Omit<LoginInput, 'binding'> & SingleUseMeta;

export interface SessionStoreOptions extends StoreDeps {
  /** Lifetime of a sign-in transaction in seconds. Default 600 (10 minutes). */
  readonly loginTtlSeconds?: number;
}

export interface SessionStore {
  createSession(input: SessionInput): Promise<{ id: string; expiresAt: number }>;
  /** The session for a cookie value, or `undefined` (unknown, expired, or not a session id). */
  getSession(id: string | null | undefined, now?: number): Promise<Session | undefined>;
  /** Ends a session (sign-out). Unknown or malformed ids are ignored. */
  deleteSession(id: string | null | undefined): Promise<void>;
  /** Stores a sign-in transaction; the returned `state` goes to the IdP. */
  createLoginTransaction(input: LoginInput): Promise<{ state: string; expiresAt: number }>;
  /** Consumes it once, for the same browser and route, before it expires. */
  consumeLoginTransaction(
    state: string | null | undefined,
    expected: { readonly route: string; readonly binding: string; readonly now?: number },
  ): Promise<{ ok: true; record: LoginRecord } | { ok: false; code: StateRefusal }>;
}

const DEFAULT_SESSION_TTL = 8 * 3600;

export function createSessionStore(options: SessionStoreOptions): SessionStore {
  const { ddb, tableName } = options;
  const clock = options.clock ?? systemClock;
  const logins = singleUseRecords<Omit<LoginInput, 'binding' | 'route'>>(
    options,
    'login',
    options.loginTtlSeconds ?? 600,
  );

  return {
    async createSession(input) {
      const id = randomToken();
      const createdAt = clock.now();
      const expiresAt = createdAt + (input.ttlSeconds ?? DEFAULT_SESSION_TTL) * 1000;
      await ddb.send(
        new PutCommand({
          TableName: tableName,
          Item: {
            ...sessionKey(id),
            userId: input.userId,
            issuer: input.issuer,
            ...(input.email === undefined ? {} : { email: input.email }),
            ...(input.name === undefined ? {} : { name: input.name }),
            createdAt,
            expiresAt,
            ttl: ttlSeconds(expiresAt),
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return { id, expiresAt };
    },

    async getSession(id, now) {
      if (!isRandomToken(id)) return undefined;
      // Consistent: a sign-out must take effect on the very next request.
      const { Item: item } = await ddb.send(
        new GetCommand({ TableName: tableName, Key: sessionKey(id), ConsistentRead: true }),
      );
      if (!item || !(typeof item.expiresAt === 'number' && item.expiresAt > (now ?? clock.now()))) {
        return undefined;
      }
      return {
        userId: item.userId as string,
        issuer: item.issuer as string,
        ...(item.email === undefined ? {} : { email: item.email as string }),
        ...(item.name === undefined ? {} : { name: item.name as string }),
        createdAt: item.createdAt as number,
        expiresAt: item.expiresAt as number,
      };
    },

    async deleteSession(id) {
      if (!isRandomToken(id)) return;
      await ddb.send(new DeleteCommand({ TableName: tableName, Key: sessionKey(id) }));
    },

    async createLoginTransaction(input) {
      if (!isSameOriginPath(input.returnTo, input.route)) {
        throw new TypeError('returnTo must be a path on the route origin');
      }
      const { route, binding, ...data } = input;
      return logins.create({ route, binding }, data);
    },

    async consumeLoginTransaction(state, expected) {
      return logins.consume(state, { route: expected.route, binding: expected.binding, now: expected.now });
    },
  };
}
