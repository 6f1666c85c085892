import { createHmac } from 'node:crypto';
import { open, seal } from '../crypto/aes-gcm.ts';
import { sha256Base64url } from '../crypto/hash.ts';
import { isRandomToken, randomToken } from '../crypto/random.ts';
import type { ClientAuthDescriptor } from '../vault/client-auth.ts';
import { systemClock, ttlSeconds } from './clock.ts';
import {
  type AuthenticatedStoreDeps,
  isConditionFailure,
  putFreshRecord,
  type SingleUseKind,
  singleUseKey,
} from './keys.ts';
import type { RecordMac } from './record-mac.ts';

/**
 * Single-use records: a value handed to the browser (an OAuth `state`), a record stored under
 * its hash, consumed by exactly one conditional delete: upstream-connect state. (The sign-in
 * transaction needs no record: it is sealed in a cookie, functions/core/auth/sign-in-transaction.ts.)
 */

/** Why a state value was refused; stable codes for the handler to map to an error page. */
export type StateRefusal =
  | 'state_missing'
  | 'state_malformed'
  | 'state_unknown'
  | 'state_expired'
  | 'state_other_browser'
  | 'state_other_user'
  | 'state_other_route';

/** What a single-use record is bound to. */
export interface SingleUseBinding {
  /** The route's origin the flow started on. */
  readonly route: string;
  /** The browser-binding (`__Host-`) cookie's value; only its SHA-256 is stored. */
  readonly binding: string;
  /** The signed-in user, for flows that have one; a record without one matches only callers without one. */
  readonly userId?: string;
}

export interface SingleUseMeta {
  readonly route: string;
  readonly userId?: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

export type ConsumeResult<T> =
  | { readonly ok: true; readonly record: T & SingleUseMeta }
  | { readonly ok: false; readonly code: StateRefusal };

export interface SingleUseRecords<T> {
  /** Stores `data` under the hash of a fresh 256-bit value and returns that value. */
  create(bound: SingleUseBinding, data: T): Promise<{ state: string; expiresAt: number }>;
  /**
   * Consumes the record with one conditional DeleteItem: it succeeds only if the record exists,
   * is unexpired, and matches the browser, user and route. Any refusal leaves the record in
   * place for the rightful caller and never returns its contents.
   */
  consume(
    value: string | null | undefined,
    expected: SingleUseBinding & { readonly now?: number },
  ): Promise<ConsumeResult<T>>;
}

/**
 * A record's data (PKCE verifier, endpoints, return path …) is sealed with AES-256-GCM under a key
 * derived from the raw 256-bit value, which only the browser holds and the table never sees (it
 * stores the value's SHA-256 under a different label), and from the record key, which only the
 * functions hold (record-mac.ts). Whoever reads the table learns no verifier; whoever writes it
 * cannot plant endpoints a later callback would trust — not even for a state value of their own
 * flow, which they know. The clear binding fields are the additional data, so they cannot be
 * swapped between records either.
 */
function dataKey(records: RecordMac, kind: SingleUseKind, value: string): Uint8Array {
  return createHmac('sha256', records.subkey('single-use-data/v2')).update(`${kind}\n${value}`).digest();
}

function dataAad(pk: string, route: string, userId: string | undefined, bindingHash: string): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([pk, route, userId ?? null, bindingHash]));
}

function sealData(
  records: RecordMac,
  kind: SingleUseKind,
  value: string,
  aad: Uint8Array,
  data: unknown,
): { iv: string; ct: string } {
  const sealed = seal(dataKey(records, kind, value), new TextEncoder().encode(JSON.stringify(data)), aad);
  return {
    iv: Buffer.from(sealed.iv).toString('base64url'),
    ct: Buffer.from(sealed.ciphertext).toString('base64url'),
  };
}

function openData<T>(
  records: RecordMac,
  kind: SingleUseKind,
  value: string,
  aad: Uint8Array,
  stored: unknown,
): T | undefined {
  const box = stored as { iv?: unknown; ct?: unknown } | undefined;
  if (typeof box?.iv !== 'string' || typeof box.ct !== 'string') return undefined;
  try {
    const plaintext = open(
      dataKey(records, kind, value),
      { iv: Buffer.from(box.iv, 'base64url'), ciphertext: Buffer.from(box.ct, 'base64url') },
      aad,
    );
    return JSON.parse(new TextDecoder().decode(plaintext)) as T;
  } catch {
    return undefined;
  }
}

/** The single-use mechanism for one record kind. */
export function singleUseRecords<T extends object>(
  deps: AuthenticatedStoreDeps,
  kind: SingleUseKind,
  ttl: number,
): SingleUseRecords<T> {
  const { table, tableName } = deps;
  const clock = deps.clock ?? systemClock;
  if (!(ttl > 0)) throw new TypeError('a single-use record needs a positive TTL');

  async function classify(value: string, expected: SingleUseBinding, now: number): Promise<StateRefusal> {
    const { Item: item } = await table.get({
      TableName: tableName,
      Key: singleUseKey(kind, value),
      ConsistentRead: true,
    });
    if (!item) return 'state_unknown';
    if (!(typeof item.expiresAt === 'number' && item.expiresAt > now)) return 'state_expired';
    if (item.bindingHash !== sha256Base64url(expected.binding)) return 'state_other_browser';
    if (item.userId !== expected.userId) return 'state_other_user';
    if (item.route !== expected.route) return 'state_other_route';
    // Everything matches although the delete was refused: not reachable with one clock, so
    // refuse without taking it rather than guess.
    return 'state_unknown';
  }

  return {
    async create(bound, data) {
      if (!bound.binding) throw new TypeError('a single-use record must be bound to a browser');
      const state = randomToken();
      const createdAt = clock.now();
      const expiresAt = createdAt + ttl * 1000;
      const key = singleUseKey(kind, state);
      const bindingHash = sha256Base64url(bound.binding);
      await putFreshRecord(
        { table, tableName },
        {
          ...key,
          route: bound.route,
          ...(bound.userId === undefined ? {} : { userId: bound.userId }),
          bindingHash,
          createdAt,
          expiresAt,
          ttl: ttlSeconds(expiresAt),
          data: sealData(
            deps.records,
            kind,
            state,
            dataAad(key.pk, bound.route, bound.userId, bindingHash),
            data,
          ),
        },
        (item) => (item.data as { ct?: unknown } | undefined)?.ct,
      );
      return { state, expiresAt };
    },

    async consume(value, expected) {
      if (value === null || value === undefined || value === '') return { ok: false, code: 'state_missing' };
      if (!isRandomToken(value)) return { ok: false, code: 'state_malformed' };
      if (!expected.binding) return { ok: false, code: 'state_other_browser' };
      const now = expected.now ?? clock.now();
      const names: Record<string, string> = { '#route': 'route', '#user': 'userId' };
      const values: Record<string, unknown> = {
        ':binding': sha256Base64url(expected.binding),
        ':route': expected.route,
        ':now': now,
      };
      let userCondition = 'attribute_not_exists(#user)';
      if (expected.userId !== undefined) {
        userCondition = '#user = :user';
        values[':user'] = expected.userId;
      }
      try {
        const { Attributes: item } = await table.delete({
          TableName: tableName,
          Key: singleUseKey(kind, value),
          ConditionExpression: `attribute_exists(pk) AND bindingHash = :binding AND ${userCondition} AND #route = :route AND expiresAt > :now`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_OLD',
        });
        if (!item) return { ok: false, code: 'state_unknown' };
        const data = openData<T>(
          deps.records,
          kind,
          value,
          dataAad(
            item.pk as string,
            item.route as string,
            item.userId as string | undefined,
            item.bindingHash as string,
          ),
          item.data,
        );
        // Consumed either way; a record that does not open was not written by us as it is now.
        if (!data) return { ok: false, code: 'state_unknown' };
        const meta: SingleUseMeta = {
          route: item.route as string,
          ...(item.userId === undefined ? {} : { userId: item.userId as string }),
          createdAt: item.createdAt as number,
          expiresAt: item.expiresAt as number,
        };
        return { ok: true, record: { ...data, ...meta } };
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        return { ok: false, code: await classify(value, expected, now) };
      }
    },
  };
}

/** What resumes after the upstream callback: a connect page, or a pending MCP authorization. */
export type StateResume =
  | { readonly kind: 'connect' }
  | { readonly kind: 'mcp-authorize'; readonly pending: Record<string, unknown> };

/** An upstream authorization request in flight (see DESIGN "Upstream OAuth"). */
export interface StateInput {
  /** The route's origin. */
  readonly route: string;
  /** The signed-in user (`userIdFor(issuer, sub)`). */
  readonly userId: string;
  /** The browser-binding cookie's value; only its SHA-256 is stored. */
  readonly binding: string;
  /** The PKCE verifier (RFC 7636). Secret until the code is redeemed: never log a record. */
  readonly codeVerifier: string;
  readonly issuer: string;
  readonly authorizationEndpoint: string;
  readonly tokenEndpoint: string;
  readonly revocationEndpoint?: string;
  readonly redirectUri: string;
  /** The RFC 8707 resource indicator sent with the request. */
  readonly resource: string;
  readonly clientId: string;
  readonly clientAuth: ClientAuthDescriptor;
  readonly scopes: readonly string[];
  /** A same-origin path to return to afterwards. */
  readonly returnTo: string;
  readonly resume: StateResume;
  /** Set only for routes that opted in (`allowInsecureUpstream`): plain-http authorization servers. */
  readonly allowInsecureRequests?: boolean;
  /** The server advertised RFC 9207 `iss` in authorization responses, so the callback requires it. */
  readonly issParameterSupported?: boolean;
}

export type StateRecord = Omit<StateInput, 'binding'> & {
  readonly createdAt: number;
  readonly expiresAt: number;
};

export interface StateStoreOptions extends AuthenticatedStoreDeps {
  /** Lifetime of a state record in seconds. Default 600 (10 minutes). */
  readonly ttlSeconds?: number;
}

export interface StateStore {
  createState(input: StateInput): Promise<{ state: string; expiresAt: number }>;
  consumeState(
    state: string | null | undefined,
    expected: {
      readonly route: string;
      readonly userId: string;
      readonly binding: string;
      readonly now?: number;
    },
  ): Promise<{ ok: true; record: StateRecord } | { ok: false; code: StateRefusal }>;
}

/** True when `returnTo` is a path on the route's own origin (no `//host`, no scheme). */
export function isSameOriginPath(returnTo: string, route: string): boolean {
  if (!returnTo.startsWith('/') || returnTo.startsWith('//') || returnTo.includes('\\')) return false;
  try {
    return new URL(returnTo, route).origin === new URL(route).origin;
  } catch {
    return false;
  }
}

/** Upstream-connect state records: 256-bit, stored hashed, bound to browser, user and route. */
export function createStateStore(options: StateStoreOptions): StateStore {
  const records = singleUseRecords<Omit<StateInput, 'binding' | 'route' | 'userId'>>(
    options,
    'state',
    options.ttlSeconds ?? 600,
  );
  return {
    async createState(input) {
      if (!isSameOriginPath(input.returnTo, input.route)) {
        throw new TypeError('returnTo must be a path on the route origin');
      }
      const { route, userId, binding, ...data } = input;
      return records.create({ route, userId, binding }, data);
    },
    async consumeState(state, expected) {
      const result = await records.consume(state, expected);
      if (!result.ok) return result;
      const { record } = result;
      return { ok: true, record: { ...record, userId: record.userId as string } };
    },
  };
}
