import { sha256Base64url } from '../crypto/hash.ts';
import { isRandomToken, randomToken } from '../crypto/random.ts';
import { systemClock, ttlSeconds } from './clock.ts';
import { type AuthenticatedStoreDeps, byMac, putFreshRecord, sessionKey } from './keys.ts';

/**
 * Sign-in sessions (the gateway's own cookie after the IdP login). A session id is 256-bit random
 * and is the cookie value; the table holds only its SHA-256. The sign-in transaction before it is
 * not stored: it travels sealed in its own cookie (functions/core/auth/sign-in-transaction.ts).
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

export type SessionStoreOptions = AuthenticatedStoreDeps;

export interface SessionStore {
  createSession(input: SessionInput): Promise<{ id: string; expiresAt: number }>;
  /** The session for a cookie value, or `undefined` (unknown, expired, or not a session id). */
  getSession(id: string | null | undefined, now?: number): Promise<Session | undefined>;
  /** Ends a session (sign-out). Unknown or malformed ids are ignored. */
  deleteSession(id: string | null | undefined): Promise<void>;
  /** Ends every session of a person ("sign out everywhere"); returns how many were listed. */
  deleteUserSessions(userId: string): Promise<number>;
  /**
   * When the person last signed out everywhere (epoch ms), if within the last 30 days: a later
   * sign-in on any route must come from a fresh authentication at the identity provider.
   */
  signedOutEverywhereAt(userId: string): Promise<number | undefined>;
}

const DEFAULT_SESSION_TTL = 8 * 3600;

/*
 * "Sign out everywhere" (issue 9 item 2): each session also gets an index item in its person's
 * partition, `session#user#{SHA-256 of the user id}` with the session item's `pk` as sort key and
 * the same expiry, so a person's sessions are one Query away. Reading a session stays one GetItem
 * (the login, connect and authorization functions read sessions on every page); signing in costs
 * one more PutItem; signing out everywhere is one Query and a delete per session. The index holds
 * only hashes, and an index item names nothing but a session to delete.
 */

function userSessionsPartition(userId: string): string {
  return `session#user#${sha256Base64url(userId)}`;
}

/** The person's "signed out everywhere" mark, in the same partition (not a session's `pk`). */
function signedOutKey(userId: string) {
  return { pk: userSessionsPartition(userId), sk: 'signed-out' };
}

/** How long the mark is kept: as long as a fresh-login cookie after a sign-out. */
const SIGNED_OUT_MARK_MS = 30 * 86_400_000;

/** A session item's `pk` as the index stores it: `session#` and a SHA-256 (base64url). */
const SESSION_PK = /^session#[A-Za-z0-9_-]{43}$/;

/** The fields a session's tag covers: everything that says who it is and how long it lasts. */
function sessionFields(s: Session): unknown[] {
  return [s.userId, s.issuer, s.email, s.name, s.createdAt, s.expiresAt];
}

export function createSessionStore(options: SessionStoreOptions): SessionStore {
  const { table, tableName } = options;
  const clock = options.clock ?? systemClock;

  return {
    async createSession(input) {
      const id = randomToken();
      const createdAt = clock.now();
      const expiresAt = createdAt + (input.ttlSeconds ?? DEFAULT_SESSION_TTL) * 1000;
      const session: Session = {
        userId: input.userId,
        issuer: input.issuer,
        ...(input.email === undefined ? {} : { email: input.email }),
        ...(input.name === undefined ? {} : { name: input.name }),
        createdAt,
        expiresAt,
      };
      // The index item first: every session that exists is then listed for sign-out-everywhere.
      await table.put({
        TableName: tableName,
        Item: {
          pk: userSessionsPartition(input.userId),
          sk: sessionKey(id).pk,
          expiresAt,
          ttl: ttlSeconds(expiresAt),
        },
      });
      await putFreshRecord(
        { table, tableName },
        {
          ...sessionKey(id),
          ...session,
          mac: options.records.tag(sessionKey(id), sessionFields(session)),
          ttl: ttlSeconds(expiresAt),
        },
        byMac,
      );
      return { id, expiresAt };
    },

    async getSession(id, now) {
      if (!isRandomToken(id)) return undefined;
      // Consistent: a sign-out must take effect on the very next request.
      const { Item: item } = await table.get({
        TableName: tableName,
        Key: sessionKey(id),
        ConsistentRead: true,
      });
      if (!item || !(typeof item.expiresAt === 'number' && item.expiresAt > (now ?? clock.now()))) {
        return undefined;
      }
      const session: Session = {
        userId: item.userId as string,
        issuer: item.issuer as string,
        ...(item.email === undefined ? {} : { email: item.email as string }),
        ...(item.name === undefined ? {} : { name: item.name as string }),
        createdAt: item.createdAt as number,
        expiresAt: item.expiresAt as number,
      };
      // A session the gateway did not write (planted or edited in the table) is no session.
      return options.records.verify(sessionKey(id), sessionFields(session), item.mac) ? session : undefined;
    },

    async deleteSession(id) {
      if (!isRandomToken(id)) return;
      await table.delete({ TableName: tableName, Key: sessionKey(id) });
    },

    async signedOutEverywhereAt(userId) {
      const { Item: mark } = await table.get({
        TableName: tableName,
        Key: signedOutKey(userId),
        ConsistentRead: true,
      });
      if (!mark || typeof mark.signedOutAt !== 'number') return undefined;
      if (mark.signedOutAt + SIGNED_OUT_MARK_MS < clock.now()) return undefined;
      return options.records.verify(signedOutKey(userId), [userId, mark.signedOutAt], mark.mac)
        ? mark.signedOutAt
        : undefined;
    },

    async deleteUserSessions(userId) {
      const partition = userSessionsPartition(userId);
      // First the mark: a sign-in anywhere that the provider completes without asking for
      // credentials again (its older authentication) is refused from now on (signin.ts).
      const at = clock.now();
      await table.put({
        TableName: tableName,
        Item: {
          ...signedOutKey(userId),
          signedOutAt: at,
          mac: options.records.tag(signedOutKey(userId), [userId, at]),
          ttl: ttlSeconds(at + SIGNED_OUT_MARK_MS),
        },
      });
      let listed = 0;
      let start: Record<string, unknown> | undefined;
      do {
        const page = await table.query({
          TableName: tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': partition },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        });
        const sessionPks = (page.Items ?? [])
          .map((item) => item.sk)
          .filter((sk): sk is string => typeof sk === 'string' && SESSION_PK.test(sk));
        listed += sessionPks.length;
        // A few at a time: a person with many sessions must not start hundreds of requests at once.
        for (let i = 0; i < sessionPks.length; i += 10) {
          await Promise.all(
            sessionPks.slice(i, i + 10).map(async (pk) => {
              await table.delete({ TableName: tableName, Key: { pk, sk: 'session' } });
              await table.delete({ TableName: tableName, Key: { pk: partition, sk: pk } });
            }),
          );
        }
        start = page.LastEvaluatedKey;
      } while (start);
      return listed;
    },
  };
}
