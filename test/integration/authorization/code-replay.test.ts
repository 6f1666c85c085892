import { createHash, generateKeyPairSync } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { createClientResolver } from '../../../functions/core/authorization/clients.ts';
import { createLocalSigner } from '../../../functions/core/authorization/signer.ts';
import {
  type TokenEndpointDeps,
  tokenEndpoint,
} from '../../../functions/core/authorization/token-endpoint.ts';
import { routeSchema } from '../../../functions/core/config/schema.ts';
import { describeRoute } from '../../../functions/core/routes.ts';
import { createCodeStore } from '../../../functions/core/store/authorization-codes.ts';
import { createGrantStore, type GrantStore } from '../../../functions/core/store/grants.ts';
import { codeKey } from '../../../functions/core/store/keys.ts';
import { createMcpClientStore } from '../../../functions/core/store/mcp-clients.ts';
import { useDynamoLocal } from '../../support/dynamo.ts';

/**
 * RFC 6749 §4.1.2 and DESIGN "Codes": a code presented twice is refused, and what its first
 * exchange issued is revoked. The code store answers the second presentation with the grant to
 * revoke; these tests check that the grant really ends, whatever the order in which the two
 * token requests reach DynamoDB.
 */

const db = useDynamoLocal();

const route = describeRoute(
  routeSchema.parse({ from: 'https://mcp.example.com', to: 'https://up.example.net/mcp' }),
);
const CLIENT = 'my-cli';
const REDIRECT = 'http://127.0.0.1:5000/cb';
const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const challenge = createHash('sha256').update(verifier).digest('base64url');
const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ format: 'pem', type: 'pkcs8' })
  .toString();

function deps(grants: GrantStore): TokenEndpointDeps {
  const stores = { table: db.table, tableName: db.tableName, records: db.records };
  return {
    resolveClient: createClientResolver({
      mcpClients: [{ clientId: CLIENT, name: 'My CLI', redirectUris: ['http://127.0.0.1/cb'] }],
      documents: {
        get: async () => {
          throw new Error('no CIMD client in these tests');
        },
      },
      registered: createMcpClientStore(stores),
    }),
    codes: createCodeStore(stores),
    grants,
    signer: createLocalSigner(pem),
    accessTokenTtlSeconds: 600,
    now: Date.now,
  };
}

async function issueCode(): Promise<string> {
  return createCodeStore({ table: db.table, tableName: db.tableName, records: db.records }).issue({
    route: route.origin,
    userId: 'user-1',
    clientId: CLIENT,
    redirectUri: REDIRECT,
    codeChallenge: challenge,
    resource: route.resource,
    scope: 'mcp',
  });
}

function exchange(code: string): Request {
  return new Request(`${route.origin}/.pomerium/mcp/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: CLIENT,
      code,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
    }).toString(),
  });
}

interface TokenAnswer {
  readonly status: number;
  readonly error?: string;
  readonly token_type?: string;
  readonly refresh_token?: string;
}

async function body(response: Response): Promise<TokenAnswer> {
  return { ...((await response.json()) as Omit<TokenAnswer, 'status'>), status: response.status };
}

describe('a replayed authorization code at the token endpoint', () => {
  it('revokes what the first exchange issued when the replay comes after it', async () => {
    const grants = createGrantStore({ table: db.table, tableName: db.tableName, records: db.records });
    const d = deps(grants);
    const code = await issueCode();
    const first = await body(await tokenEndpoint(d, exchange(code), route));
    expect(first).toMatchObject({ status: 200, token_type: 'Bearer' });
    const second = await body(await tokenEndpoint(d, exchange(code), route));
    expect(second).toMatchObject({ status: 400, error: 'invalid_grant' });
    const rotated = await grants.rotate(first.refresh_token!, { clientId: CLIENT, route: route.origin });
    expect(rotated).toEqual({ ok: false, reason: 'revoked' });
  });

  // Regression test for a race this suite found: the replay is answered between the first
  // exchange's redemption and its createGrant. A revokeGrant that only deletes finds no grant yet,
  // then the first exchange creates it, and its tokens live on.
  it('revokes what the first exchange issued when the replay is answered before that grant is written', async () => {
    const real = createGrantStore({ table: db.table, tableName: db.tableName, records: db.records });
    let replayAnswered!: () => void;
    const replayDone = new Promise<void>((resolve) => {
      replayAnswered = resolve;
    });
    // The first exchange's createGrant is held until the replay has revoked (or 2 s, should a fix
    // no longer call revokeGrant): the interleaving a slow first request meets in production.
    const grants: GrantStore = {
      ...real,
      createGrant: async (grant, authorizedAt) => {
        await Promise.race([replayDone, new Promise((r) => setTimeout(r, 2000))]);
        return real.createGrant(grant, authorizedAt);
      },
      revokeGrant: async (ref) => {
        await real.revokeGrant(ref);
        replayAnswered();
      },
    };
    const d = deps(grants);
    const code = await issueCode();
    const firstResponse = tokenEndpoint(d, exchange(code), route);
    // Let the first request redeem the code before the replay arrives.
    for (let i = 0; i < 100 && !(await redeemed(code)); i++) await new Promise((r) => setTimeout(r, 10));
    const second = await body(await tokenEndpoint(d, exchange(code), route));
    expect(second).toMatchObject({ status: 400, error: 'invalid_grant' });
    const first = await body(await firstResponse);
    if (first.status === 200) {
      // Whatever the first exchange handed out must be dead.
      const rotated = await real.rotate(first.refresh_token!, { clientId: CLIENT, route: route.origin });
      expect(rotated).toEqual({ ok: false, reason: 'revoked' });
    }
  });
});

async function redeemed(code: string): Promise<boolean> {
  const { Item } = await db.ddb.send(
    new GetCommand({ TableName: db.tableName, Key: codeKey(code), ConsistentRead: true }),
  );
  return typeof Item?.redeemedAt === 'number';
}

describe('a code approved just before the person revoked the client', () => {
  const rotatedAway = async (grants: GrantStore, answer: TokenAnswer) =>
    answer.refresh_token === undefined ||
    !(await grants.rotate(answer.refresh_token, { clientId: CLIENT, route: route.origin })).ok;

  it('is refused when redeemed after the revocation, and issues nothing', async () => {
    const grants = createGrantStore({ table: db.table, tableName: db.tableName, records: db.records });
    const code = await issueCode();
    await new Promise((r) => setTimeout(r, 5)); // the revocation comes after the approval
    await grants.revokeClient('user-1', route.origin, CLIENT);
    const answer = await tokenEndpoint(deps(grants), exchange(code), route);
    expect(answer.status).toBe(400);
    expect(answer.headers.get('x-mcp-edge-refusal')).toBe('code_invalid');
    expect(await body(answer)).toMatchObject({ error: 'invalid_grant' });
  });

  it('leaves nothing alive when the revocation runs while the code is being exchanged', async () => {
    const real = createGrantStore({ table: db.table, tableName: db.tableName, records: db.records });
    for (let round = 0; round < 5; round++) {
      const code = await issueCode();
      await new Promise((r) => setTimeout(r, 2));
      const [answer] = await Promise.all([
        tokenEndpoint(deps(real), exchange(code), route).then(body),
        real.revokeClient('user-1', route.origin, CLIENT),
      ]);
      // Either refused, or whatever it issued is already revoked.
      expect(answer.status === 400 || (await rotatedAway(real, answer))).toBe(true);
    }
  });

  it('is still redeemed when approved again after the revocation', async () => {
    const grants = createGrantStore({ table: db.table, tableName: db.tableName, records: db.records });
    await grants.revokeClient('user-1', route.origin, CLIENT);
    await new Promise((r) => setTimeout(r, 5));
    const code = await issueCode();
    expect(await body(await tokenEndpoint(deps(grants), exchange(code), route))).toMatchObject({
      status: 200,
      token_type: 'Bearer',
    });
  });
});
