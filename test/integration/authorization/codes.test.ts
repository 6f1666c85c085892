import { createHash } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { sha256Base64url } from '../../../functions/core/crypto/hash.ts';
import { randomToken } from '../../../functions/core/crypto/random.ts';
import { type CodeInput, createCodeStore } from '../../../functions/core/store/authorization-codes.ts';
import { spyOnTable, useDynamoLocal } from '../../support/dynamo.ts';

const db = useDynamoLocal();

const clock = { t: 1_800_000_000_000, now: () => clock.t };
const store = () => createCodeStore({ table: db.table, tableName: db.tableName, records: db.records, clock });

const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const challenge = createHash('sha256').update(verifier).digest('base64url');

const input: CodeInput = {
  route: 'https://mcp.example.com',
  userId: 'user-1',
  clientId: 'https://app.example.com/client.json',
  redirectUri: 'http://127.0.0.1:5000/cb',
  codeChallenge: challenge,
  resource: 'https://mcp.example.com/mcp',
  scope: 'mcp',
};

const presented = {
  clientId: input.clientId,
  redirectUri: input.redirectUri,
  challenge,
  resource: input.resource,
  route: input.route,
};

async function withoutDynamo(fn: () => Promise<void>) {
  const tableCalls = spyOnTable(db.table);
  try {
    await fn();
    expect(tableCalls.count()).toBe(0);
  } finally {
    tableCalls.restore();
  }
}

describe('authorization codes', () => {
  it('issues a 256-bit code, stored only as its hash, that redeems once with its bindings', async () => {
    const codes = store();
    const code = await codes.issue(input);
    expect(code).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const { Item } = await db.ddb.send(
      new GetCommand({
        TableName: db.tableName,
        Key: { pk: `code#${sha256Base64url(code)}`, sk: 'code' },
        ConsistentRead: true,
      }),
    );
    expect(Item).toMatchObject({ ...input, expiresAt: clock.t + 60_000 });
    expect(JSON.stringify(Item)).not.toContain(code);
    // toMatchObject: the code may carry more than these bindings (fields added later).
    expect(await codes.redeem(code, presented, 'grant-1')).toMatchObject({
      ok: true,
      code: { ...input, grantId: 'grant-1' },
    });
  });

  it('lets exactly one of 50 concurrent redemptions of one code succeed; the others are replays', async () => {
    const codes = store();
    const code = await codes.issue(input);
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => codes.redeem(code, presented, `grant-${i}`)),
    );
    const winners = results.filter((r) => r.ok);
    expect(winners).toHaveLength(1);
    const winnerGrant = winners[0]!.ok ? winners[0]!.code.grantId : '';
    const reasons = results.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.reason));
    expect(reasons).toEqual(Array(49).fill('replayed'));
    for (const r of results) {
      if (!r.ok && r.reason === 'replayed') {
        expect(r.grant).toEqual({
          userId: input.userId,
          route: input.route,
          clientId: input.clientId,
          grantId: winnerGrant,
        });
      }
    }
  });

  it.each([
    ['challenge (another verifier)', { challenge: createHash('sha256').update('other').digest('base64url') }],
    ['challenge (the plain verifier)', { challenge: verifier }],
    ['client', { clientId: 'https://evil.example/client.json' }],
    ['redirect URI', { redirectUri: 'http://127.0.0.1:5001/cb' }],
    ['resource', { resource: 'https://other.example.com/mcp' }],
    ['route', { route: 'https://other.example.com' }],
  ])(
    'refuses a redemption with a wrong %s as a mismatch, and the code still redeems',
    async (_what, wrong) => {
      const codes = store();
      const code = await codes.issue(input);
      expect(await codes.redeem(code, { ...presented, ...wrong }, 'grant-x')).toEqual({
        ok: false,
        reason: 'mismatch',
      });
      expect(await codes.redeem(code, presented, 'grant-1')).toMatchObject({ ok: true });
    },
  );

  it('refuses a code after its 60 s as expired, with a clock that moved on', async () => {
    const codes = store();
    const code = await codes.issue(input);
    clock.t += 60_000;
    try {
      expect(await codes.redeem(code, presented, 'grant-1')).toEqual({ ok: false, reason: 'expired' });
    } finally {
      clock.t -= 60_000;
    }
    const fresh = await codes.issue(input);
    clock.t += 59_999;
    try {
      expect(await codes.redeem(fresh, presented, 'grant-1')).toMatchObject({ ok: true });
    } finally {
      clock.t -= 59_999;
    }
  });

  it('answers a replay after success with the grant to revoke', async () => {
    const codes = store();
    const code = await codes.issue(input);
    expect((await codes.redeem(code, presented, 'grant-first')).ok).toBe(true);
    const replay = await codes.redeem(code, presented, 'grant-second');
    expect(replay).toEqual({
      ok: false,
      reason: 'replayed',
      grant: { userId: 'user-1', route: input.route, clientId: input.clientId, grantId: 'grant-first' },
    });
    // Still a replay long after the code's own expiry (kept for the replay window).
    clock.t += 5 * 60_000;
    try {
      expect(await codes.redeem(code, presented, 'grant-third')).toMatchObject({ reason: 'replayed' });
    } finally {
      clock.t -= 5 * 60_000;
    }
  });

  it('answers an unknown well-formed code as unknown', async () => {
    expect(await store().redeem(randomToken(), presented, 'g')).toEqual({ ok: false, reason: 'unknown' });
  });

  it.each(['', 'abc', `${randomToken()}x`, randomToken().slice(1), `${'A'.repeat(42)}B`, 'a'.repeat(10_000)])(
    'answers the malformed code %j as unknown without a DynamoDB call',
    async (code) => {
      await withoutDynamo(async () => {
        expect(await store().redeem(code, presented, 'g')).toEqual({ ok: false, reason: 'unknown' });
      });
    },
  );
});
