import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { startAwsStandIn } from './aws-stand-in.ts';
import { cfnLint, hasCfnLint } from './cfn-lint.ts';
import { REPO_ROOT } from './synth.ts';

const out = mkdtempSync(join(tmpdir(), 'mcp-edge-synth-'));
/** The synthesized templates of the three-route fixture, once the first test wrote them. */
let synthesizedTemplates: string[] = [];
let bundledCimd: { file: string; routes: string } | undefined;
/** The other functions' bundles, by function name. */
const bundles = new Map<string, string>();
/** Each function's environment as the template gives it, by function name. */
const templateEnvironments = new Map<string, Record<string, unknown>>();
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Runs the real CDK CLI offline: no credentials, no AWS endpoints, no notices. */
function cdkSynth(config: string, outdir: string) {
  const started = Date.now();
  const result = spawnSync('npx', ['cdk', 'synth', '-c', `config=${config}`, '--quiet', '-o', outdir], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: {
      ...process.env,
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_PROFILE: '',
      AWS_EC2_METADATA_DISABLED: 'true',
      CDK_DEFAULT_ACCOUNT: '',
    },
    timeout: 170_000,
  });
  return { ...result, seconds: (Date.now() - started) / 1000 };
}

describe('npx cdk synth', () => {
  // Bundling six functions takes 15-20 s on an idle machine, far longer on a busy one.
  it('synthesizes the three-route fixture offline, bundling every function with the local esbuild', {
    timeout: 180_000,
  }, () => {
    const outdir = join(out, 'ok');
    const result = cdkSynth('test/fixtures/infra-three-routes.config.json', outdir);
    console.info(`cdk synth with bundling took ${result.seconds.toFixed(1)} s`);
    expect(result.status, result.stderr).toBe(0);
    expect(existsSync(join(outdir, 'McpEdgeCertificates.template.json'))).toBe(true);
    expect(existsSync(join(outdir, 'McpEdgeGateway.template.json'))).toBe(true);
    expect(existsSync(join(outdir, 'McpEdgeProtection.template.json'))).toBe(true);
    synthesizedTemplates = readdirSync(outdir)
      .filter((f) => f.endsWith('.template.json'))
      .map((f) => join(outdir, f));

    const template = JSON.parse(readFileSync(join(outdir, 'McpEdgeGateway.template.json'), 'utf8'));
    type LambdaResource = {
      Type: string;
      Properties: {
        Description?: string;
        Code?: { S3Key: string };
        Environment?: { Variables: Record<string, string> };
      };
    };
    const fn = Object.values(template.Resources as Record<string, LambdaResource>).find(
      (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Description === 'MCP Edge: cimd',
    );
    const assetHash = fn!.Properties.Code!.S3Key.replace(/\.zip$/, '');
    const bundle = join(outdir, `asset.${assetHash}`);
    expect(readdirSync(bundle).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    const code = readFileSync(join(bundle, 'index.mjs'), 'utf8');
    // The ESM banner gives CommonJS dependencies a `require`.
    expect(code.startsWith("import { createRequire as __mcpEdgeCreateRequire } from 'node:module';")).toBe(
      true,
    );
    expect(code).toMatch(/export\s*\{[^}]*\bhandler\b/);
    bundledCimd = {
      file: join(bundle, 'index.mjs'),
      routes: fn!.Properties.Environment!.Variables.MCP_EDGE_ROUTES!,
    };
    for (const name of ['login', 'connect', 'callback', 'authorization', 'proxy']) {
      const other = Object.values(template.Resources as Record<string, LambdaResource>).find(
        (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Description === `MCP Edge: ${name}`,
      );
      templateEnvironments.set(name, other!.Properties.Environment!.Variables);
      bundles.set(
        name,
        join(outdir, `asset.${other!.Properties.Code!.S3Key.replace(/\.zip$/, '')}`, 'index.mjs'),
      );
    }
  });

  it('produces a cimd bundle that runs: it serves the document with the template’s route table', async () => {
    expect(bundledCimd, 'needs the synth above').toBeDefined();
    process.env.MCP_EDGE_ROUTES = bundledCimd!.routes;
    process.env.MCP_EDGE_ORIGIN_VERIFY = 'origin-secret-for-this-test';
    const { handler } = (await import(pathToFileURL(bundledCimd!.file).href)) as {
      handler: (event: unknown) => Promise<{ statusCode: number; body: string }>;
    };
    const event = (secret?: string) => ({
      httpMethod: 'GET',
      path: '/.well-known/mcp-client-metadata.json',
      headers: { Host: 'mcp.example.com', ...(secret ? { 'x-mcp-edge-origin-verify': secret } : {}) },
      requestContext: { domainName: 'mcp.example.com' },
    });
    const served = await handler(event('origin-secret-for-this-test'));
    expect(served.statusCode).toBe(200);
    expect(JSON.parse(served.body).client_id).toBe(
      'https://mcp.example.com/.well-known/mcp-client-metadata.json',
    );
    expect((await handler(event())).statusCode).toBe(403);
  });

  it('produces login, connect and callback bundles that start (top-level await, ESM) and answer without a network', async () => {
    expect(bundles.size, 'needs the synth above').toBe(5);
    // Their cold start reads the sealing secret (the table records' key); nothing else of AWS.
    const aws = await sealingSecretStandIn();
    Object.assign(process.env, {
      AWS_REGION: 'eu-west-1',
      MCP_EDGE_ROUTES: bundledCimd!.routes,
      MCP_EDGE_ORIGIN_VERIFY: 'origin-secret-for-this-test',
      MCP_EDGE_TABLE: 'mcp-edge-test',
      MCP_EDGE_KMS_KEY_ARN: 'arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000',
      MCP_EDGE_SEALING_SECRET_ARN: STAND_IN_SEALING_ARN,
      MCP_EDGE_IDP: JSON.stringify({
        issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x',
        clientId: 'c',
      }),
    });
    type Handler = (
      event: unknown,
    ) => Promise<{ statusCode: number; body: string; multiValueHeaders?: Record<string, string[]> }>;
    const load = async (name: string) =>
      ((await import(pathToFileURL(bundles.get(name)!).href)) as { handler: Handler }).handler;
    const event = (method: string, path: string, headers: Record<string, string> = {}) => ({
      httpMethod: method,
      path,
      headers: {
        Host: 'mcp.example.com',
        'x-mcp-edge-origin-verify': 'origin-secret-for-this-test',
        ...headers,
      },
      requestContext: { domainName: 'mcp.example.com' },
    });
    // No session cookie: each answer comes before any DynamoDB, KMS or identity-provider call.
    const connections = await (await load('connect'))(
      event('GET', '/.pomerium/connections', { accept: 'application/json' }),
    );
    expect(connections.statusCode).toBe(401);
    expect(JSON.parse(connections.body).error).toBe('login_required');
    const callback = await (await load('callback'))(event('GET', '/.pomerium/oauth/callback'));
    expect(callback.statusCode).toBe(401);
    expect(callback.body).toContain('login_required');
    const login = await load('login');
    expect((await login(event('PUT', '/.pomerium/login'))).statusCode).toBe(405);
    expect(
      (await login({ ...event('GET', '/.pomerium/login'), headers: { Host: 'mcp.example.com' } })).statusCode,
    ).toBe(403);
    expect(aws.calls.map((c) => [c.target, c.input.SecretId])).toEqual(
      Array(3).fill(['secretsmanager.GetSecretValue', STAND_IN_SEALING_ARN]),
    );
    await aws.close();
  });

  /**
   * Runs a function with exactly the variables the template gives it, CloudFormation's references
   * replaced by stand-ins (a secret value, a table name, key and secret ARNs), so a variable the
   * code needs but the stack does not set stops it here rather than in AWS.
   */
  function useTemplateEnvironment(name: string): void {
    const variables = templateEnvironments.get(name);
    expect(variables, 'needs the synth above').toBeDefined();
    for (const key of Object.keys(process.env)) if (key.startsWith('MCP_EDGE_')) delete process.env[key];
    process.env.AWS_REGION = 'eu-central-1';
    for (const [key, value] of Object.entries(variables!)) {
      const json = JSON.stringify(value);
      if (typeof value === 'string') process.env[key] = value;
      else if (json.includes('{{resolve:secretsmanager:')) process.env[key] = 'origin-secret-for-this-test';
      else if (/^\{"Ref":"DataTable\w+"\}$/.test(json)) process.env[key] = 'mcp-edge-test';
      else if (/^\{"Ref":"ProxySealingSecret\w+"\}$/.test(json)) process.env[key] = STAND_IN_SEALING_ARN;
      else if (/^\{"Fn::GetAtt":\["TokenSigning\w+","Arn"\]\}$/.test(json))
        process.env[key] = STAND_IN_SIGNING_KEY_ARN;
      else if (/^\{"Fn::GetAtt":\["\w+","Arn"\]\}$/.test(json)) process.env[key] = STAND_IN_KEY_ARN;
      else throw new Error(`${name}: no stand-in for ${key} = ${json}`);
    }
  }
  const STAND_IN_KEY_ARN = 'arn:aws:kms:eu-central-1:111122223333:key/00000000-0000-0000-0000-000000000000';
  const STAND_IN_SIGNING_KEY_ARN =
    'arn:aws:kms:eu-central-1:111122223333:key/11111111-1111-1111-1111-111111111111';
  const STAND_IN_SEALING_ARN =
    'arn:aws:secretsmanager:eu-central-1:111122223333:secret:ProxySealingSecret-abcdefghijkl-AbCdEf';
  /** Secrets Manager as far as a cold start needs it: the sealing secret, by its ARN only. */
  async function sealingSecretStandIn(more: Parameters<typeof startAwsStandIn>[0] = {}) {
    const aws = await startAwsStandIn({
      'secretsmanager.GetSecretValue': ({ SecretId }) =>
        SecretId === STAND_IN_SEALING_ARN
          ? { output: { ARN: SecretId, Name: 'ProxySealingSecret', SecretString: 'x'.repeat(64) } }
          : { error: 'ResourceNotFoundException', message: 'no such secret' },
      ...more,
    });
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
      AWS_ENDPOINT_URL_KMS: aws.url,
      AWS_ENDPOINT_URL_DYNAMODB: aws.url,
      AWS_ACCESS_KEY_ID: 'stand-in',
      AWS_SECRET_ACCESS_KEY: 'stand-in',
    });
    return aws;
  }
  const originEvent = (method: string, path: string, host: string) => ({
    httpMethod: method,
    path,
    headers: { Host: host, 'x-mcp-edge-origin-verify': 'origin-secret-for-this-test' },
    requestContext: { domainName: host },
  });

  it('produces an authorization bundle that starts with the template’s environment and serves its metadata', async () => {
    // MCP_EDGE_AUTHORIZATION parses with the function's own schema (it would not start otherwise).
    useTemplateEnvironment('authorization');
    const aws = await sealingSecretStandIn();
    const authorization = (
      (await import(pathToFileURL(bundles.get('authorization')!).href)) as {
        handler: (event: unknown) => Promise<{ statusCode: number; body: string }>;
      }
    ).handler;
    const metadata = await authorization(
      originEvent('GET', '/.well-known/oauth-authorization-server', 'tools.example.org'),
    );
    expect(metadata.statusCode).toBe(200);
    expect(JSON.parse(metadata.body).issuer).toBe('https://tools.example.org');
    const resource = await authorization(
      originEvent('GET', '/.well-known/oauth-protected-resource/v1/mcp', 'tools.example.org'),
    );
    expect(JSON.parse(resource.body).resource).toBe('https://tools.example.org/v1/mcp');
    // The cold start read the sealing secret the template names, and nothing else.
    expect(aws.calls).toEqual([
      { target: 'secretsmanager.GetSecretValue', input: { SecretId: STAND_IN_SEALING_ARN } },
    ]);
    await aws.close();
  });

  it('produces a proxy bundle that starts with the template’s environment and challenges a request without a token, and one whose grant is gone', async () => {
    useTemplateEnvironment('proxy');
    // AWS as far as the proxy's cold start and these two requests need it: the sealing secret, the
    // signing key's public key and the grant lookup. Anything else it asked would be refused.
    const signing = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const aws = await startAwsStandIn({
      'secretsmanager.GetSecretValue': ({ SecretId }) =>
        SecretId === STAND_IN_SEALING_ARN
          ? { output: { ARN: SecretId, Name: 'ProxySealingSecret', SecretString: 'x'.repeat(64) } }
          : { error: 'ResourceNotFoundException', message: 'no such secret' },
      'TrentService.GetPublicKey': ({ KeyId }) => ({
        output: {
          KeyId,
          KeySpec: 'ECC_NIST_P256',
          KeyUsage: 'SIGN_VERIFY',
          SigningAlgorithms: ['ECDSA_SHA_256'],
          PublicKey: signing.publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
        },
      }),
      // No grant behind the token: revoked, or never issued.
      'DynamoDB_20120810.GetItem': () => ({ output: {} }),
    });
    const awsEnvironment = {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: aws.url,
      AWS_ENDPOINT_URL_KMS: aws.url,
      AWS_ENDPOINT_URL_DYNAMODB: aws.url,
      AWS_ACCESS_KEY_ID: 'stand-in',
      AWS_SECRET_ACCESS_KEY: 'stand-in',
    };
    Object.assign(process.env, awsEnvironment);
    // Lambda's streaming runtime, as far as these requests need it.
    let prelude: { statusCode: number; headers: Record<string, string> } | undefined;
    Object.assign(globalThis, {
      awslambda: {
        streamifyResponse: (handler: unknown) => handler,
        HttpResponseStream: {
          from: (stream: Writable, metadata: typeof prelude) => {
            prelude = metadata;
            return stream;
          },
        },
      },
    });
    try {
      const proxy = (
        (await import(pathToFileURL(bundles.get('proxy')!).href)) as {
          handler: (event: unknown, stream: Writable, context: unknown) => Promise<void>;
        }
      ).handler;
      // The cold start read the sealing secret and the signing key's public key the template
      // names (MCP_EDGE_SEALING_SECRET_ARN, MCP_EDGE_SIGNING_KEY_ARN), in either order, and nothing else.
      expect(aws.calls).toHaveLength(2);
      expect(aws.calls).toEqual(
        expect.arrayContaining([
          { target: 'TrentService.GetPublicKey', input: { KeyId: STAND_IN_SIGNING_KEY_ARN } },
          { target: 'secretsmanager.GetSecretValue', input: { SecretId: STAND_IN_SEALING_ARN } },
        ]),
      );
      const request = async (headers: Record<string, string> = {}) => {
        const event = originEvent('POST', '/v1/mcp', 'tools.example.org');
        const sink = new PassThrough();
        sink.resume();
        prelude = undefined;
        await proxy({ ...event, headers: { ...event.headers, ...headers } }, sink, {});
        return prelude!;
      };

      const anonymous = await request();
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.headers['www-authenticate']).toContain(
        'resource_metadata="https://tools.example.org/.well-known/oauth-protected-resource/v1/mcp"',
      );
      expect(aws.calls).toHaveLength(2);

      // A well-formed token whose grant is gone: verified offline with the public key the cold
      // start fetched, then the grant looked up in the table the template names.
      const token = await new SignJWT({
        client_id: 'https://client.example.net/cimd.json',
        scope: '',
        sid: 'g1',
      })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
        .setIssuer('https://tools.example.org')
        .setAudience('https://tools.example.org/v1/mcp')
        .setSubject('person-1')
        .setJti('jti-1')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(signing.privateKey);
      const revoked = await request({ authorization: `Bearer ${token}` });
      expect(revoked.statusCode).toBe(401);
      expect(revoked.headers['www-authenticate']).toContain('error="invalid_token"');
      expect(aws.calls.slice(2)).toEqual([
        {
          target: 'DynamoDB_20120810.GetItem',
          input: expect.objectContaining({
            TableName: 'mcp-edge-test',
            Key: expect.objectContaining({ pk: { S: expect.stringMatching(/^grant#/) } }),
          }),
        },
      ]);
    } finally {
      for (const key of Object.keys(awsEnvironment)) delete process.env[key];
      await aws.close();
    }
  });

  it.skipIf(!hasCfnLint)(
    'writes templates cfn-lint accepts against the CloudFormation resource specification',
    () => {
      expect(synthesizedTemplates, 'needs the synth above').toHaveLength(3);
      // The rules it ignores, each with its reason: cfn-lint.ts. Everything else, warnings too, fails.
      const { status, report } = cfnLint(synthesizedTemplates);
      expect(status, report).toBe(0);
    },
  );

  it('refuses a local-only config with exit code 1 and the messages, without a stack trace', () => {
    const result = cdkSynth('test/fixtures/infra-local-only.config.json', join(out, 'refused'));
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('infra-local-only.config.json cannot be deployed to AWS:');
    expect(result.stderr).toContain(
      'routes[0].allowPrivateNetwork: is for the local gateway only; remove it',
    );
    expect(result.stderr).toContain('routes[0].from: "https://localhost:8443" is not a public DNS name');
    expect(result.stderr).toContain('routes[0].to: must be an https URL when deployed');
    expect(result.stderr).toContain(
      'trustPolicy.allowPrivateNetwork: is for the local gateway only; remove it',
    );
    expect(result.stderr).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  });
});
