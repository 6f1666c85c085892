import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lambdaServices } from '../../functions/adapters/lambda-services.ts';
import type { Services } from '../../functions/adapters/services.ts';
import { createCallbackHandler } from '../../functions/callback/app.ts';
import { randomToken } from '../../functions/core/crypto/random.ts';
import { cookieNames } from '../../functions/core/web/cookies.ts';
import { type DynamoLocal, startDynamoLocal } from '../../functions/local/dynamo.ts';
import {
  actionsOf,
  allowsEncryptionContext,
  allowsTableCall,
  functionNamed,
  resourcesAllowed,
  roleStatements,
} from './iam.ts';
import { readFixture, synthesize } from './synth.ts';

/**
 * The callback function's role against what the callback really asks of AWS (issue 9 item 7):
 * the function is built the way its Lambda handler builds it (lambdaServices with the environment
 * the template gives it), its AWS calls go to a recorder on 127.0.0.1 — DynamoDB calls forwarded to
 * DynamoDB Local, KMS and Secrets Manager answered there — and every callback path is walked: no
 * session, a public client's code exchange, a replayed state, a dynamic registration's secret, a
 * configured client secret, and an upstream that no longer knows its registered client. Each call
 * must be one the synthesized role allows, and every permission the role holds must have been
 * used by one of them: a trimmed permission the code needs, or an unused one coming back, fails.
 */

const STAND_IN = {
  key: 'arn:aws:kms:eu-central-1:111122223333:key/00000000-0000-0000-0000-000000000000',
  sealing: 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:ProxySealingSecret-abcdefghijkl-AbCdEf',
  originSecret: 'origin-secret-for-this-test',
};
const TOOLS_SECRET = 'arn:aws:secretsmanager:eu-central-1:111122223333:secret:tools-AbCdEf';
const ORIGIN = 'https://mcp.example.com';
const TOOLS = 'https://tools.example.org';
const ISSUER = 'https://as.upstream.example.net';
const TOOLS_ISSUER = 'https://auth.tools.example.com';

/** One call the function made to AWS: the IAM action, and its table key or KMS context or secret. */
interface AwsCall {
  readonly action: string;
  readonly pk?: string;
  readonly context?: Record<string, string>;
  readonly secretId?: string;
}

const s = synthesize(readFixture('infra-three-routes.config.json'));
const template = s.gatewayTemplate;
const statements = roleStatements(template, 'callback');
const resources = template.toJSON().Resources as Record<string, { Type: string }>;
const idOf = (type: string, prefix: string) =>
  Object.keys(resources).find((id) => resources[id]!.Type === type && id.startsWith(prefix))!;
const TABLE = { 'Fn::GetAtt': [idOf('AWS::DynamoDB::Table', 'DataTable'), 'Arn'] };
const SEALING_SECRET = { Ref: idOf('AWS::SecretsManager::Secret', 'ProxySealing') };

let dynamo: DynamoLocal;
let aws: Server;
let tokenServer: Server;
let tokenEndpoint: string;
/** How the token endpoint answers the next exchange. */
let tokenAnswer: 'tokens' | 'invalid_client' = 'tokens';
const calls: AwsCall[] = [];
/** Every call the callback function made: its cold start's and its requests'. */
const seen: AwsCall[] = [];
const dataKeys = new Map<string, { plaintext: string; context: string }>();
let callback: ReturnType<typeof createCallbackHandler>;
/** A second container on the same environment: writes what a connect would have written. */
let setup: Services;
const savedEnv = { ...process.env };

/** The recorder: DynamoDB forwarded to DynamoDB Local, KMS data keys and secrets answered here. */
async function answer(
  target: string,
  input: Record<string, unknown>,
): Promise<{ status: number; body: unknown }> {
  const [service, operation] = target.split('.') as [string, string];
  if (service === 'DynamoDB_20120810') {
    const key = (input.Key as { pk?: { S: string } } | undefined)?.pk?.S;
    calls.push({ action: `dynamodb:${operation}`, ...(key ? { pk: key } : {}) });
    const forwarded = await fetch(dynamo.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': target,
        // DynamoDB Local keeps one database per access key and region and checks no signature.
        authorization:
          'AWS4-HMAC-SHA256 Credential=local/20260101/local/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: JSON.stringify(input),
    });
    return { status: forwarded.status, body: await forwarded.json() };
  }
  if (target === 'TrentService.GenerateDataKey') {
    const context = input.EncryptionContext as Record<string, string>;
    calls.push({ action: 'kms:GenerateDataKey', context });
    const plaintext = randomBytes(32).toString('base64');
    const blob = randomBytes(48).toString('base64');
    dataKeys.set(blob, { plaintext, context: JSON.stringify(context) });
    return { status: 200, body: { KeyId: input.KeyId, Plaintext: plaintext, CiphertextBlob: blob } };
  }
  if (target === 'TrentService.Decrypt') {
    const context = input.EncryptionContext as Record<string, string>;
    calls.push({ action: 'kms:Decrypt', context });
    const key = dataKeys.get(String(input.CiphertextBlob));
    if (!key || key.context !== JSON.stringify(context)) {
      return { status: 400, body: { __type: 'InvalidCiphertextException', message: 'not this context' } };
    }
    return { status: 200, body: { KeyId: STAND_IN.key, Plaintext: key.plaintext } };
  }
  if (target === 'secretsmanager.GetSecretValue') {
    const secretId = String(input.SecretId);
    calls.push({ action: 'secretsmanager:GetSecretValue', secretId });
    const value = { [STAND_IN.sealing]: 'x'.repeat(64), [TOOLS_SECRET]: 'tools-client-secret' }[secretId];
    return value
      ? { status: 200, body: { ARN: secretId, Name: 'stand-in', SecretString: value } }
      : { status: 400, body: { __type: 'ResourceNotFoundException', message: 'no such secret' } };
  }
  return { status: 400, body: { __type: 'UnknownOperationException', message: target } };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
const close = (server: Server | undefined) =>
  new Promise<void>((resolve) => {
    if (!server) return resolve();
    server.closeAllConnections();
    server.close(() => resolve());
  });

beforeAll(async () => {
  dynamo = await startDynamoLocal();
  aws = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const { status, body } = await answer(
        String(req.headers['x-amz-target']),
        text ? JSON.parse(text) : {},
      );
      res.writeHead(status, { 'content-type': String(req.headers['content-type'] ?? 'application/json') });
      res.end(JSON.stringify(body));
    });
  });
  const awsUrl = await listen(aws);
  tokenServer = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const ok = tokenAnswer === 'tokens';
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(
        JSON.stringify(
          ok
            ? {
                access_token: randomToken(),
                refresh_token: randomToken(),
                token_type: 'Bearer',
                expires_in: 3600,
              }
            : { error: 'invalid_client' },
        ),
      );
    });
  });
  tokenEndpoint = `${await listen(tokenServer)}/token`;

  // The template's environment for the callback, its references replaced by the stand-ins. The
  // routes opt into loopback and plain HTTP, so the token endpoint can be this test's server.
  const variables = functionNamed(template, 'callback').properties.Environment.Variables;
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(variables)) {
    const json = JSON.stringify(value);
    if (typeof value === 'string') env[key] = value;
    else if (json.includes('{{resolve:secretsmanager:')) env[key] = STAND_IN.originSecret;
    else if (/^\{"Ref":"DataTable\w+"\}$/.test(json)) env[key] = dynamo.tableName;
    else if (/^\{"Ref":"ProxySealingSecret\w+"\}$/.test(json)) env[key] = STAND_IN.sealing;
    else if (/^\{"Fn::GetAtt":\["DataKey\w+","Arn"\]\}$/.test(json)) env[key] = STAND_IN.key;
    else throw new Error(`no stand-in for ${key} = ${json}`);
  }
  env.MCP_EDGE_ROUTES = JSON.stringify(
    (JSON.parse(env.MCP_EDGE_ROUTES!) as object[]).map((route) => ({
      ...route,
      allowInsecureUpstream: true,
      allowPrivateNetwork: true,
    })),
  );
  Object.assign(process.env, {
    AWS_REGION: 'eu-central-1',
    AWS_ENDPOINT_URL_DYNAMODB: awsUrl,
    AWS_ENDPOINT_URL_KMS: awsUrl,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: awsUrl,
    AWS_ACCESS_KEY_ID: 'stand-in',
    AWS_SECRET_ACCESS_KEY: 'stand-in',
  });
  calls.length = 0;
  const built = await lambdaServices(env);
  seen.push(...calls);
  callback = createCallbackHandler(built.services, built.originSecret);
  setup = (await lambdaServices(env)).services;
}, 60_000);

afterAll(async () => {
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
  await close(aws);
  await close(tokenServer);
  await dynamo?.stop();
});

interface Flow {
  readonly route: string;
  readonly issuer: string;
  readonly clientId: string;
  readonly clientAuth: { method: 'none' } | { method: 'client_secret_basic' };
}

/** A signed-in person with a state record for a flow, as connect leaves them; the calls to get there are not counted. */
async function started(flow: Flow) {
  const userId = `idp:${randomToken().slice(0, 8)}`;
  const session = await setup.sessions.createSession({ userId, issuer: 'https://login.example.com' });
  const binding = randomToken();
  const { state } = await setup.states.createState({
    route: flow.route,
    userId,
    binding,
    codeVerifier: randomToken(),
    issuer: flow.issuer,
    authorizationEndpoint: `${flow.issuer}/authorize`,
    tokenEndpoint,
    redirectUri: `${flow.route}/.pomerium/oauth/callback`,
    resource: 'https://api.upstream.example.net/mcp',
    clientId: flow.clientId,
    clientAuth: flow.clientAuth,
    scopes: [],
    returnTo: '/.pomerium/connections',
    resume: { kind: 'connect' },
    allowInsecureRequests: true,
  });
  const names = cookieNames(flow.route);
  return { state, cookie: `${names.session}=${session.id}; ${names.binding}=${binding}` };
}

/** One request to the callback function as API Gateway hands it over; the AWS calls it made. */
async function call(route: string, query: Record<string, string>, cookie?: string) {
  calls.length = 0;
  const host = new URL(route).host;
  const answer = (await callback({
    httpMethod: 'GET',
    path: '/.pomerium/oauth/callback',
    headers: {
      Host: host,
      'x-mcp-edge-origin-verify': STAND_IN.originSecret,
      ...(cookie ? { Cookie: cookie } : {}),
    },
    queryStringParameters: query,
    requestContext: { domainName: host },
  } as never)) as { statusCode: number; body: string };
  return { status: answer.statusCode, made: [...calls] };
}

const made = <T extends { made: AwsCall[] }>(result: T): T => {
  seen.push(...result.made);
  return result;
};

describe('the callback function’s calls to AWS', () => {
  it('asks nothing of AWS without a session cookie', async () => {
    const result = made(await call(ORIGIN, { code: 'c', state: randomToken() }));
    expect(result.status).toBe(401);
    expect(result.made).toEqual([]);
  });

  it('reads the session, consumes the state and stores the tokens for a public client', async () => {
    const flow = {
      route: ORIGIN,
      issuer: ISSUER,
      clientId: 'https://mcp.example.com/cimd',
      clientAuth: { method: 'none' },
    } as const;
    const { state, cookie } = await started(flow);
    const result = made(await call(ORIGIN, { code: 'c', state, iss: ISSUER }, cookie));
    expect(result.status).toBe(303);
    expect(result.made.map((c) => `${c.action} ${c.pk?.split('#')[0] ?? ''}`)).toEqual([
      'dynamodb:GetItem session',
      'dynamodb:DeleteItem state',
      'kms:GenerateDataKey ',
      'dynamodb:UpdateItem vault',
    ]);

    // The same answer again: the state is gone, and a read tells why.
    const replay = made(await call(ORIGIN, { code: 'c', state, iss: ISSUER }, cookie));
    expect(replay.status).toBe(400);
    expect(replay.made.map((c) => `${c.action} ${c.pk?.split('#')[0]}`)).toEqual([
      'dynamodb:GetItem session',
      'dynamodb:DeleteItem state',
      'dynamodb:GetItem state',
    ]);
  });

  it('opens a dynamic registration’s client secret for the exchange', async () => {
    const flow = {
      route: ORIGIN,
      issuer: ISSUER,
      clientId: 'dcr-1',
      clientAuth: { method: 'client_secret_basic' },
    } as const;
    await setup.registrations.put(ORIGIN, ISSUER, {
      clientId: 'dcr-1',
      tokenEndpointAuthMethod: 'client_secret_basic',
      clientSecret: 'registered-secret',
    });
    const { state, cookie } = await started(flow);
    const result = made(await call(ORIGIN, { code: 'c', state, iss: ISSUER }, cookie));
    expect(result.status).toBe(303);
    expect(result.made.map((c) => c.action)).toContain('kms:Decrypt');
    expect(result.made.find((c) => c.action === 'kms:Decrypt')!.context!.user).toBe(
      '(dynamic client registration)',
    );
  });

  it('reads the configured client secret of a route that has one', async () => {
    const flow = {
      route: TOOLS,
      issuer: TOOLS_ISSUER,
      clientId: 'edge-tools',
      clientAuth: { method: 'client_secret_basic' },
    } as const;
    const { state, cookie } = await started(flow);
    const result = made(await call(TOOLS, { code: 'c', state, iss: TOOLS_ISSUER }, cookie));
    expect(result.status).toBe(303);
    expect(result.made.filter((c) => c.action === 'secretsmanager:GetSecretValue')).toEqual([
      { action: 'secretsmanager:GetSecretValue', secretId: TOOLS_SECRET },
    ]);
  });

  it('forgets a registration the upstream no longer knows', async () => {
    const flow = {
      route: ORIGIN,
      issuer: `${ISSUER}/other`,
      clientId: 'dcr-2',
      clientAuth: { method: 'none' },
    } as const;
    await setup.registrations.put(ORIGIN, flow.issuer, {
      clientId: 'dcr-2',
      tokenEndpointAuthMethod: 'none',
    });
    const { state, cookie } = await started(flow);
    tokenAnswer = 'invalid_client';
    try {
      const result = made(await call(ORIGIN, { code: 'c', state, iss: flow.issuer }, cookie));
      expect(result.status).toBe(502);
      expect(result.made.map((c) => `${c.action} ${c.pk?.split('#')[0]}`)).toContain(
        'dynamodb:DeleteItem registration',
      );
    } finally {
      tokenAnswer = 'tokens';
    }
  });

  it('made only calls its role allows', () => {
    const refused = seen.filter((c) => !allowed(c));
    expect(refused).toEqual([]);
  });

  it('used every permission its role holds (nothing in the role is unused)', () => {
    const tableUses = new Set(seen.filter((c) => c.pk).map((c) => `${c.action} ${c.pk!.split('#')[0]}#`));
    const kinds = [
      'session',
      'state',
      'vault',
      'registration',
      'discovery',
      'login',
      'client',
      'code',
      'grant',
      'refresh',
    ];
    const operations = ['GetItem', 'Query', 'PutItem', 'UpdateItem', 'DeleteItem'];
    const granted = kinds.flatMap((kind) =>
      operations
        .filter((op) => allowsTableCall(statements, TABLE, `dynamodb:${op}`, `${kind}#x`))
        .map((op) => `dynamodb:${op} ${kind}#`),
    );
    expect([...tableUses].sort()).toEqual(granted.sort());
    // The vault key: each of its two statements served a call.
    const vault = statements.filter(
      (st) =>
        actionsOf(st).some((a) => a === 'kms:GenerateDataKey' || a === 'kms:Decrypt') && !viaDynamoDb(st),
    );
    for (const statement of vault) {
      expect(
        seen.some(
          (c) =>
            c.context &&
            actionsOf(statement).includes(c.action) &&
            allowsEncryptionContext(statement, c.context),
        ),
        JSON.stringify(statement.Action),
      ).toBe(true);
    }
    // Every secret it may read, it read: the sealing secret at cold start, the route's secret.
    const read = new Set(seen.filter((c) => c.secretId).map((c) => c.secretId));
    for (const resource of resourcesAllowed(statements, 'secretsmanager:GetSecretValue')) {
      const id = JSON.stringify(resource) === JSON.stringify(SEALING_SECRET) ? STAND_IN.sealing : resource;
      expect(read.has(id as string), JSON.stringify(resource)).toBe(true);
    }
  });
});

function viaDynamoDb(statement: { Condition?: Record<string, Record<string, unknown>> }): boolean {
  return Boolean(statement.Condition?.StringEquals && 'kms:ViaService' in statement.Condition.StringEquals);
}

/** Whether the synthesized role allows one recorded call. */
function allowed(call: AwsCall): boolean {
  if (call.action.startsWith('dynamodb:'))
    return allowsTableCall(statements, TABLE, call.action, call.pk ?? '');
  if (call.action === 'secretsmanager:GetSecretValue') {
    const resource = call.secretId === STAND_IN.sealing ? SEALING_SECRET : call.secretId;
    return resourcesAllowed(statements, call.action).some(
      (r) => JSON.stringify(r) === JSON.stringify(resource),
    );
  }
  return statements.some(
    (st) =>
      actionsOf(st).includes(call.action) &&
      !viaDynamoDb(st) &&
      allowsEncryptionContext(st, call.context ?? {}),
  );
}
