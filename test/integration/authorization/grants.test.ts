import { describe, expect, it } from 'vitest';
import { randomToken } from '../../../functions/core/crypto/random.ts';
import { createGrantStore, type NewGrant, type RotateResult } from '../../../functions/core/store/grants.ts';
import { spyOnTable, useDynamoLocal } from '../../support/dynamo.ts';

const db = useDynamoLocal();

const DAY = 86_400_000;
const clock = { t: 1_800_000_000_000, now: () => clock.t };
const store = (refreshTokenTtlDays?: number) =>
  createGrantStore({
    table: db.table,
    tableName: db.tableName,
    records: db.records,
    clock,
    ...(refreshTokenTtlDays ? { refreshTokenTtlDays } : {}),
  });

const ROUTE_A = 'https://a.example.com';
const ROUTE_B = 'https://b.example.com';
const APP = 'https://app.example.com/client.json';
const OTHER = 'https://other.example.com/client.json';

let grantCounter = 0;
function newGrant(overrides: Partial<NewGrant> = {}): NewGrant {
  grantCounter++;
  return {
    userId: `user-${grantCounter}`,
    route: ROUTE_A,
    clientId: APP,
    grantId: `grant-${grantCounter}`,
    scope: 'mcp',
    resource: `${ROUTE_A}/mcp`,
    ...overrides,
  };
}

const as = (grant: NewGrant) => ({ clientId: grant.clientId, route: grant.route });

async function withClockAt<T>(t: number, fn: () => Promise<T>): Promise<T> {
  const saved = clock.t;
  clock.t = t;
  try {
    return await fn();
  } finally {
    clock.t = saved;
  }
}

describe('grants and refresh tokens', () => {
  it('rotates a refresh token: the new one works, the grant lives on', async () => {
    const grants = store();
    const grant = newGrant();
    const first = await grants.createGrant(grant);
    expect(first).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const rotated = await grants.rotate(first, as(grant));
    expect(rotated).toMatchObject({ ok: true, grant });
    if (!rotated.ok) throw new Error('not rotated');
    expect(rotated.refreshToken).not.toBe(first);
    expect(await grants.rotate(rotated.refreshToken, as(grant))).toMatchObject({ ok: true });
    expect(await grants.grantExists(grant)).toBe(true);
  });

  it('lets exactly one of 50 concurrent rotations of one refresh token succeed, then ends the grant (RFC 9700)', async () => {
    const grants = store();
    const grant = newGrant();
    const token = await grants.createGrant(grant);
    const results = await Promise.all(Array.from({ length: 50 }, () => grants.rotate(token, as(grant))));
    const winners = results.filter((r): r is Extract<RotateResult, { ok: true }> => r.ok);
    expect(winners).toHaveLength(1);
    const losers = results.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.reason));
    // Losers that claimed too late are reuse ('reused'); losers that looked after the grant was
    // revoked find it gone ('revoked'). Nothing else.
    expect(losers).toHaveLength(49);
    expect(losers.every((reason) => reason === 'reused' || reason === 'revoked')).toBe(true);
    expect(losers).toContain('reused');
    expect(await grants.grantExists(grant)).toBe(false);
    // The winner's new token belongs to the revoked grant.
    expect(await grants.rotate(winners[0]!.refreshToken, as(grant))).toEqual({
      ok: false,
      reason: 'revoked',
    });
    const tally: Record<string, number> = {};
    for (const reason of losers) tally[reason] = (tally[reason] ?? 0) + 1;
    console.info(`50 concurrent rotations: 1 ok, ${JSON.stringify(tally)}`);
  });

  it('answers a replayed rotated token as reused and ends its grant', async () => {
    const grants = store();
    const grant = newGrant();
    const first = await grants.createGrant(grant);
    const rotated = await grants.rotate(first, as(grant));
    if (!rotated.ok) throw new Error('not rotated');
    expect(await grants.rotate(first, as(grant))).toEqual({
      ok: false,
      reason: 'reused',
      grant: { ...grant },
    });
    expect(await grants.grantExists(grant)).toBe(false);
    expect(await grants.rotate(rotated.refreshToken, as(grant))).toEqual({ ok: false, reason: 'revoked' });
  });

  it.each([
    ['client', { clientId: OTHER, route: ROUTE_A }],
    ['route', { clientId: APP, route: ROUTE_B }],
  ])(
    'refuses a token presented by another %s as a mismatch and revokes nothing',
    async (_what, presented) => {
      const grants = store();
      const grant = newGrant();
      const token = await grants.createGrant(grant);
      expect(await grants.rotate(token, presented)).toEqual({ ok: false, reason: 'mismatch' });
      expect(await grants.grantExists(grant)).toBe(true);
      expect(await grants.rotate(token, as(grant))).toMatchObject({ ok: true });
    },
  );

  it('refuses a mismatched replay of a rotated token without revoking the grant', async () => {
    const grants = store();
    const grant = newGrant();
    const first = await grants.createGrant(grant);
    expect((await grants.rotate(first, as(grant))).ok).toBe(true);
    expect(await grants.rotate(first, { clientId: OTHER, route: ROUTE_A })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
    expect(await grants.grantExists(grant)).toBe(true);
  });

  it('answers unknown and malformed refresh tokens as unknown, the malformed without a DynamoDB call', async () => {
    const grants = store();
    expect(await grants.rotate(randomToken(), { clientId: APP, route: ROUTE_A })).toEqual({
      ok: false,
      reason: 'unknown',
    });
    const tableCalls = spyOnTable(db.table);
    try {
      for (const token of ['', 'x', `${randomToken()}x`, 'a'.repeat(5000)]) {
        expect(await grants.rotate(token, { clientId: APP, route: ROUTE_A })).toEqual({
          ok: false,
          reason: 'unknown',
        });
        expect(await grants.grantOfRefreshToken(token, { clientId: APP, route: ROUTE_A })).toBeUndefined();
      }
      expect(tableCalls.count()).toBe(0);
    } finally {
      tableCalls.restore();
    }
  });

  it('expires a refresh token and its grant after refreshTokenTtlDays unused', async () => {
    const grants = store(2);
    const grant = newGrant();
    const token = await grants.createGrant(grant);
    const end = clock.t + 2 * DAY;
    expect(await withClockAt(end - 1, () => grants.grantExists(grant))).toBe(true);
    expect(await withClockAt(end, () => grants.grantExists(grant))).toBe(false);
    expect(await withClockAt(end, () => grants.rotate(token, as(grant)))).toEqual({
      ok: false,
      reason: 'expired',
    });
    // Not consumed by the expired attempt: the rightful client at the right time still rotates.
    expect(await withClockAt(end - 1, () => grants.rotate(token, as(grant)))).toMatchObject({ ok: true });
  });

  it('keeps the grant alive as long as its newest refresh token', async () => {
    const grants = store(2);
    const grant = newGrant();
    const token = await grants.createGrant(grant);
    const later = clock.t + DAY + 1;
    const rotated = await withClockAt(later, () => grants.rotate(token, as(grant)));
    if (!rotated.ok) throw new Error('not rotated');
    expect(await withClockAt(later + 2 * DAY - 1, () => grants.grantExists(grant))).toBe(true);
    expect(
      await withClockAt(later + 2 * DAY - 1, () => grants.rotate(rotated.refreshToken, as(grant))),
    ).toMatchObject({ ok: true });
  });

  it('remembers, reads and lists consents per (user, route, client)', async () => {
    const grants = store();
    const user = `consenting-${randomToken(6)}`;
    const consent = {
      route: ROUTE_A,
      clientId: APP,
      clientName: 'App',
      clientKind: 'cimd' as const,
      scope: 'mcp',
    };
    await grants.rememberConsent(user, consent);
    const created = clock.t;
    expect(await grants.getConsent(user, ROUTE_A, APP)).toEqual({
      ...consent,
      createdAt: created,
      updatedAt: created,
    });
    expect(await grants.getConsent(user, ROUTE_B, APP)).toBeUndefined();
    expect(await grants.getConsent(user, ROUTE_A, OTHER)).toBeUndefined();
    expect(await grants.getConsent('someone-else', ROUTE_A, APP)).toBeUndefined();

    await withClockAt(created + 1000, () => grants.rememberConsent(user, { ...consent, scope: 'mcp extra' }));
    expect(await grants.getConsent(user, ROUTE_A, APP)).toMatchObject({
      scope: 'mcp extra',
      createdAt: created,
      updatedAt: created + 1000,
    });

    await grants.rememberConsent(user, { ...consent, route: ROUTE_B });
    await grants.rememberConsent(user, {
      ...consent,
      clientId: 'my-cli',
      clientKind: 'configured',
      clientName: 'CLI',
    });
    // A grant in the same partition is not a consent.
    await grants.createGrant(newGrant({ userId: user }));
    const listed = await grants.listConsents(user);
    expect(listed.map((c) => `${c.route} ${c.clientId}`).sort()).toEqual(
      [`${ROUTE_A} ${APP}`, `${ROUTE_A} my-cli`, `${ROUTE_B} ${APP}`].sort(),
    );
    expect(await grants.listConsents('nobody')).toEqual([]);
  });

  it("revokes a client's consent and grants on one route, and nothing of another client or route", async () => {
    const grants = store();
    const user = `revoking-${randomToken(6)}`;
    const consent = { clientName: 'App', clientKind: 'cimd' as const, scope: 'mcp' };
    const target1 = newGrant({ userId: user });
    const target2 = newGrant({ userId: user });
    const otherClient = newGrant({ userId: user, clientId: OTHER });
    const otherRoute = newGrant({ userId: user, route: ROUTE_B, resource: `${ROUTE_B}/mcp` });
    const otherUser = newGrant();
    const tokens = new Map<NewGrant, string>();
    for (const g of [target1, target2, otherClient, otherRoute, otherUser]) {
      tokens.set(g, await grants.createGrant(g));
      await grants.rememberConsent(g.userId, { ...consent, route: g.route, clientId: g.clientId });
    }

    await grants.revokeClient(user, ROUTE_A, APP);

    expect(await grants.getConsent(user, ROUTE_A, APP)).toBeUndefined();
    for (const g of [target1, target2]) {
      expect(await grants.grantExists(g)).toBe(false);
      expect(await grants.rotate(tokens.get(g)!, as(g))).toEqual({ ok: false, reason: 'revoked' });
    }
    expect(await grants.getConsent(user, ROUTE_A, OTHER)).toBeDefined();
    expect(await grants.getConsent(user, ROUTE_B, APP)).toBeDefined();
    expect(await grants.getConsent(otherUser.userId, ROUTE_A, APP)).toBeDefined();
    for (const g of [otherClient, otherRoute, otherUser]) {
      expect(await grants.grantExists(g)).toBe(true);
      expect(await grants.rotate(tokens.get(g)!, as(g))).toMatchObject({ ok: true });
    }
  });

  it('keeps grants of a route whose origin extends the revoked one (https://a.example.com vs :8443)', async () => {
    const grants = store();
    const user = `prefix-${randomToken(6)}`;
    const longer = newGrant({ userId: user, route: `${ROUTE_A}:8443` });
    await grants.createGrant(longer);
    await grants.revokeClient(user, ROUTE_A, APP);
    expect(await grants.grantExists(longer)).toBe(true);
  });

  it('tells the grant of a refresh token only to its own client on its own route', async () => {
    const grants = store();
    const grant = newGrant();
    const token = await grants.createGrant(grant);
    const ref = {
      userId: grant.userId,
      route: grant.route,
      clientId: grant.clientId,
      grantId: grant.grantId,
    };
    expect(await grants.grantOfRefreshToken(token, as(grant))).toEqual(ref);
    expect(await grants.grantOfRefreshToken(token, { clientId: OTHER, route: ROUTE_A })).toBeUndefined();
    expect(await grants.grantOfRefreshToken(token, { clientId: APP, route: ROUTE_B })).toBeUndefined();
    expect(await grants.grantOfRefreshToken(randomToken(), as(grant))).toBeUndefined();
  });

  it('revokes one grant without touching another grant of the same client', async () => {
    const grants = store();
    const user = `two-${randomToken(6)}`;
    const g1 = newGrant({ userId: user });
    const g2 = newGrant({ userId: user });
    await grants.createGrant(g1);
    const t2 = await grants.createGrant(g2);
    await grants.revokeGrant(g1);
    expect(await grants.grantExists(g1)).toBe(false);
    expect(await grants.grantExists(g2)).toBe(true);
    expect(await grants.rotate(t2, as(g2))).toMatchObject({ ok: true });
  });
});
